// The page runs the shared protocol core with no Node at all: bundled for a browser with the
// page's Buffer, and run here in a context that has only what a browser has (WebCrypto,
// TextEncoder, atob), it seals, opens and shows a conversation as the terminal programs do.
import { expect } from 'chai';
import { createContext, runInContext } from 'node:vm';
import { roomSealer, signerOf, newKeyPair, type ChatPayload } from '../../../src/protocol/index.js';
import { Sender } from '../../../src/conversation/sender.js';

const root = new URL('../../../../', import.meta.url).pathname;

interface Core {
  Buffer: { from(v: unknown, e?: string): { toString(e?: string): string; length: number } };
  run(
    key: Uint8Array,
    raws: string[],
  ): Promise<{ shown: string[]; warnings: string[]; sealed: string }>;
}

/** The core as the page bundles it, loaded into a context with a browser's globals only. */
async function pageCore(): Promise<Core> {
  const { build } = await import('esbuild');
  const entry = `
    import { webRoomCodec, webSignerOf, newWebIdentity } from './src/protocol/web-envelope.ts';
    import { Inbox } from './src/conversation/inbox.ts';
    import { KnownSenders } from './src/conversation/senders.ts';
    import { Sender } from './src/conversation/sender.ts';
    export { Buffer };
    export async function run(key, raws) {
      const signer = await webSignerOf(await newWebIdentity());
      const codec = webRoomCodec(key, '123456', signer);
      const shown = [];
      const warnings = [];
      const inbox = new Inbox(
        { topic: 'sunoye/room/123456', codec: undefined, joinId: undefined, count: undefined,
          senders: new KnownSenders(undefined, { name: 'page', publicKey: Buffer.from(signer.publicKey) }) },
        { show: (p, _at, how) => shown.push(how.sender.trust + ' ' + p.from + ': ' + (p.message ?? p.event)),
          warn: (w) => warnings.push(w), closedNotice() {}, countReached() {} });
      for (const raw of raws) inbox.receiveDecoded(await codec.openAll(raw));
      const me = new Sender('page');
      const sealed = await codec.sealBatch(me.messages([{ text: 'from the page' }, { text: 'twice' }]));
      inbox.receiveDecoded(await codec.openAll(sealed));
      return { shown, warnings, sealed };
    }`;
  const result = await build({
    stdin: { contents: entry, resolveDir: root, loader: 'ts' },
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'iife',
    globalName: 'core',
    inject: [`${root}src/web/buffer.ts`],
    logLevel: 'silent',
  });
  const context = createContext({
    crypto: globalThis.crypto,
    TextEncoder,
    TextDecoder,
    atob,
    btoa,
  });
  expect(runInContext('typeof Buffer + typeof process + typeof require', context)).to.equal(
    'undefinedundefinedundefined',
  );
  runInContext(result.outputFiles[0]!.text, context);
  return runInContext('core', context) as Core;
}

describe('the page’s Buffer and the core it runs', function () {
  it('writes and reads base64url, which the buffer package lacks, as Node does', async function () {
    const { Buffer: PageBuffer } = await pageCore();
    for (let n = 0; n < 40; n++) {
      const bytes = globalThis.crypto.getRandomValues(new Uint8Array(n));
      const url = Buffer.from(bytes).toString('base64url');
      expect(PageBuffer.from(bytes).toString('base64url')).to.equal(url);
      expect(PageBuffer.from(url, 'base64url').toString('hex')).to.equal(
        Buffer.from(bytes).toString('hex'),
      );
      expect(PageBuffer.from(bytes).toString('base64')).to.equal(
        Buffer.from(bytes).toString('base64'),
      );
    }
  });

  it('opens and shows a terminal’s lines, and seals its own, with no Node in sight', async function () {
    const core = await pageCore();
    const key = globalThis.crypto.getRandomValues(new Uint8Array(32));
    const terminal = roomSealer(key, '123456', signerOf(newKeyPair()));
    const bob = new Sender('bob');
    const lines: ChatPayload[] = bob.messages([
      { text: 'hello page' },
      { text: '<b>not bold</b>' },
    ]);
    const raws = [
      terminal.sealBatch([bob.notice('join', 'sunoye/room/123456', '123456')]),
      terminal.sealBatch(lines),
      terminal.sealBatch(lines), // again: shown once
      'not an envelope',
    ];
    const { shown, warnings, sealed } = await core.run(key, raws);
    expect(shown).to.deep.equal([
      'new bob: join',
      'known bob: hello page',
      'known bob: <b>not bold</b>',
      'you page: from the page',
      'you page: twice',
    ]);
    expect(warnings).to.deep.equal(['ignored a payload on sunoye/room/123456: not JSON']);
    // What the page sealed opens in the terminal, as two lines of one sender.
    const opened = terminal.openAll(sealed);
    expect(
      opened.ok && opened.payloads.map((p) => p.type === 'message' && p.message),
    ).to.deep.equal(['from the page', 'twice']);
  });
});
