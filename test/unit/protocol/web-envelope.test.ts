// The page seals and opens with WebCrypto (here Node's own) exactly what the terminal programs
// seal and open with node:crypto: the same bytes out, the same payloads in, the same refusals.
import { expect } from 'chai';
import { webcrypto } from 'node:crypto';
import {
  MAX_ENVELOPE_BYTES,
  newKeyPair,
  roomSealer,
  signerOf,
  type ChatPayload,
  type Signer,
} from '../../../src/protocol/index.js';
import {
  newWebIdentity,
  verifySignatureWeb,
  webRoomCodec,
  webSignerOf,
  type WebSigner,
} from '../../../src/protocol/web-envelope.js';
import { SMALL_ORDER_KEYS } from '../../helpers/small-order.js';

const ROOM = '482913';
const KEY = Buffer.alloc(32, 0x42);

/** The same Ed25519 key pair as a node:crypto signer and as a WebCrypto one. */
async function bothSigners(): Promise<{ node: Signer; web: WebSigner }> {
  const pair = newKeyPair();
  const jwk = { kty: 'OKP', crv: 'Ed25519', x: pair.x, d: pair.d };
  const privateKey = await webcrypto.subtle.importKey('jwk', jwk, 'Ed25519', false, ['sign']);
  const publicKey = await webcrypto.subtle.importKey(
    'jwk',
    { kty: 'OKP', crv: 'Ed25519', x: pair.x },
    'Ed25519',
    true,
    ['verify'],
  );
  return { node: signerOf(pair), web: await webSignerOf({ publicKey, privateKey }) };
}

/** Nonces 0, 1, 2… in both sealers, so their envelopes can be compared byte for byte. */
function counting(): () => Uint8Array {
  let n = 0;
  return () => {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setUint32(8, n++);
    return nonce;
  };
}

const stamp = (seq: number, text: string): ChatPayload => ({
  type: 'message',
  from: 'alice',
  message: text,
  id: `s3nd3r-${seq}`,
  seq,
  ts: '2026-12-06T07:00:00.000Z',
});

/** Batches of every form the wire has: one payload, a compact batch, a mixed array. */
const BATCHES: ChatPayload[][] = [
  [stamp(1, 'hello')],
  [
    {
      type: 'notice',
      from: 'alice',
      notice: 'User alice is now subscribed to r .',
      event: 'join',
      id: 's3nd3r-2',
      seq: 2,
      ts: '2026-12-06T07:00:00.000Z',
      conn: 'c0nn',
    },
  ],
  [stamp(3, 'one'), stamp(4, 'two ☕'), stamp(5, '<script>alert(1)</script>')],
  Array.from({ length: 1000 }, (_, i) => stamp(10 + i, `line ${i} ${'x'.repeat(i % 50)}`)),
  [stamp(2000, 'a'), { ...stamp(2001, 'b'), from: 'bob' }],
];

describe('the page’s envelopes (WebCrypto) against the terminal’s (node:crypto)', function () {
  it('seals every form of batch to the same bytes, given the same key, signer and nonce', async function () {
    const { node, web } = await bothSigners();
    const nodeSealer = roomSealer(KEY, ROOM, node, counting());
    const webCodec = webRoomCodec(KEY, ROOM, web, counting());
    for (const batch of BATCHES) {
      const expected = nodeSealer.sealBatch(batch);
      expect(await webCodec.sealBatch(batch), `${batch.length} payloads`).to.equal(expected);
    }
    expect(Buffer.from(web.publicKey).equals(node.publicKey)).to.equal(true);
  });

  it('opens what the other sealed: the same payloads and the same signer, both ways', async function () {
    const { node, web } = await bothSigners();
    const other = await bothSigners();
    const nodeSealer = roomSealer(KEY, ROOM, node);
    const webCodec = webRoomCodec(KEY, ROOM, other.web);
    for (const batch of BATCHES) {
      const fromNode = await webCodec.openAll(nodeSealer.sealBatch(batch));
      expect(fromNode).to.deep.equal({ ok: true, payloads: batch, signer: node.publicKey });
      const sealed = await webCodec.sealBatch(batch);
      expect(nodeSealer.openAll(sealed)).to.deep.equal({
        ok: true,
        payloads: batch,
        signer: Buffer.from(other.web.publicKey),
      });
      // Bytes as they come off a socket open too.
      expect((await webCodec.openAll(Buffer.from(sealed))).ok).to.equal(true);
    }
    expect(web.publicKey).to.have.length(32);
  });

  it('refuses what Node refuses, for the same reason', async function () {
    const { node, web } = await bothSigners();
    const nodeSealer = roomSealer(KEY, ROOM, node);
    const webCodec = webRoomCodec(KEY, ROOM, web);
    const good = nodeSealer.sealBatch([stamp(1, 'hi')]);
    const env = JSON.parse(good) as { sunoye: number; n: string; c: string };
    const body = Buffer.from(env.c, 'base64');
    const flipped = Buffer.from(body);
    flipped[40] = flipped[40]! ^ 1;
    // A signature over other bytes: sealed by a signer that signs something else.
    const liar: Signer = { publicKey: node.publicKey, sign: () => node.sign(Buffer.from('x')) };
    const cases: (string | Uint8Array)[] = [
      JSON.stringify({ ...env, c: flipped.toString('base64') }),
      roomSealer(KEY, '482914', node).sealBatch([stamp(1, 'hi')]),
      roomSealer(Buffer.alloc(32, 1), ROOM, node).sealBatch([stamp(1, 'hi')]),
      roomSealer(KEY, ROOM, liar).sealBatch([stamp(1, 'hi')]),
      JSON.stringify({ ...env, sunoye: 9 }),
      JSON.stringify({ ...env, n: 'AAAA' }),
      JSON.stringify({ ...env, c: `${env.c.slice(0, -4)}!!!!` }),
      JSON.stringify({ type: 'message', from: 'mallory', message: 'plain' }),
      '{"sunoye":2,',
      Buffer.from([0xff, 0xfe, 0x00]),
      `{"sunoye":2,"n":"${env.n}","c":"${'A'.repeat(MAX_ENVELOPE_BYTES)}"}`,
    ];
    const reasons: string[] = [];
    for (const raw of cases) {
      const nodeResult = nodeSealer.openAll(raw);
      expect(nodeResult.ok).to.equal(false);
      expect(await webCodec.openAll(raw)).to.deep.equal(nodeResult);
      if (!nodeResult.ok) reasons.push(nodeResult.reason);
    }
    expect(new Set(reasons).size, reasons.join(' | ')).to.be.at.least(8);
  });

  it('takes nothing signed by a key of small order, which anyone can sign for', async function () {
    const identity = SMALL_ORDER_KEYS[0]!;
    const forged = Buffer.concat([identity, Buffer.alloc(32)]);
    for (let i = 0; i < 32; i++)
      expect(await verifySignatureWeb(identity, Buffer.from(`message ${i}`), forged)).to.equal(
        false,
      );
    for (const key of SMALL_ORDER_KEYS)
      for (const signature of [forged, Buffer.alloc(64), Buffer.concat([key, Buffer.alloc(32)])])
        expect(
          await verifySignatureWeb(key, Buffer.from('hello'), signature),
          key.toString('hex'),
        ).to.equal(false);
    // Sealed into an envelope by such a "signer": refused as Node refuses it.
    const forger: WebSigner = { publicKey: identity, sign: () => Promise.resolve(forged) };
    const forgedEnvelope = await webRoomCodec(KEY, ROOM, forger).sealBatch([stamp(1, 'as anyone')]);
    const { web } = await bothSigners();
    expect(await webRoomCodec(KEY, ROOM, web).openAll(forgedEnvelope)).to.deep.equal({
      ok: false,
      reason: 'bad signature',
    });
  });

  it('keeps a new identity’s private key unreadable, and its messages open in Node under its key', async function () {
    const identity = await newWebIdentity();
    expect(identity.privateKey.extractable).to.equal(false);
    let exported = false;
    await webcrypto.subtle.exportKey('jwk', identity.privateKey).then(
      () => (exported = true),
      () => undefined,
    );
    expect(exported).to.equal(false);
    const signer = await webSignerOf(identity);
    const sealed = await webRoomCodec(KEY, ROOM, signer).sealBatch([stamp(7, 'from a page')]);
    const opened = roomSealer(KEY, ROOM, signerOf(newKeyPair())).openAll(sealed);
    expect(opened.ok && opened.signer?.equals(signer.publicKey)).to.equal(true);
  });
});

describe('the protocol core the page shares', function () {
  it('bundles for a browser: nothing the page imports needs a module of Node', async function () {
    const { build } = await import('esbuild');
    const root = new URL('../../../../', import.meta.url).pathname;
    const modules = [
      'src/protocol/web-envelope.ts',
      'src/protocol/web-crypto.ts',
      'src/protocol/kdf.ts',
      'src/conversation/inbox.ts',
      'src/conversation/senders.ts',
      'src/conversation/replay.ts',
      'src/conversation/sender.ts',
    ];
    const result = await build({
      stdin: {
        contents: modules.map((m, i) => `export * as m${i} from './${m}';`).join('\n'),
        resolveDir: root,
        loader: 'ts',
      },
      bundle: true,
      write: false,
      platform: 'browser',
      format: 'esm',
      logLevel: 'silent',
      metafile: true,
    }).catch((err: Error & { errors?: { text: string }[] }) => {
      throw new Error((err.errors ?? []).map((e) => e.text).join('\n') || err.message);
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.filter((i) => i.startsWith('node:'))).to.deep.equal([]);
    expect(inputs).to.include('src/protocol/wire.ts');
  });
});
