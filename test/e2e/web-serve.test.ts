// `room serve --web` over plain HTTP, as a browser or anyone else reaches it: the page's files
// and nothing else, under a strict Content-Security-Policy; the rooms API (a public record with
// no verifier; a password check, limited per address); WebSocket upgrades from other origins
// refused. The page itself, in a browser, is test/e2e/web-page.test.ts.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { expect } from 'chai';
import { WebSocket } from 'ws';
import { runProgram } from '../helpers/cli.js';
import { createRoomWithPassword, stopAll, type RunningProgram } from '../helpers/programs.js';
import { alterRoomRecord, pageSecret, storedRoom } from '../helpers/registries.js';
import { Sender } from '../../src/conversation/sender.js';
import { httpTo, jsonOf, startWebServe, stderrSays, type WebServe } from '../helpers/web.js';
import { deriveRoomSecretWeb, verifierWeb } from '../../src/protocol/web-crypto.js';
import {
  fingerprint,
  newSigner,
  roomCodec,
  signMembership,
  type Signer,
} from '../../src/protocol/index.js';

const SECURITY_HEADERS = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

const csp = (broker: string): string =>
  "default-src 'none'; script-src 'self'; worker-src 'self'; style-src 'self'; img-src 'self'; " +
  `connect-src 'self' ${broker}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;

/** A check's request for `verifier` (base64) from the page's origin. */
const check = (web: WebServe, room: string, verifier: string | Buffer) =>
  httpTo(web.pageUrl, `/api/rooms/${room}/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', origin: web.pageUrl.replace(/\/$/, '') },
    body: JSON.stringify({
      verifier: Buffer.isBuffer(verifier) ? verifier.toString('base64') : verifier,
    }),
  });

describe('room serve --web over HTTP', function () {
  this.timeout(60_000);
  let dir: string;
  let registry: string;
  let env: Record<string, string>;
  let room: { room: string; password: string };
  const running: RunningProgram[] = [];

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-web-'));
    registry = join(dir, 'registry.db');
    // Rooms are made without a broker running: room create records the broker, never connects.
    env = {
      HOME: dir,
      SUNOYE_DB: `sqlite:${registry}`,
      SUNOYE_BROKER: 'mqtt://127.0.0.1:1',
      SUNOYE_NAME: 'alice',
    };
    room = await createRoomWithPassword(env);
  });
  afterEach(async function () {
    await stopAll(running);
  });

  /** POSTs a JSON body to a path of `web`, from the page's origin. */
  const postFrom = (web: WebServe) => (path: string, body: unknown) =>
    httpTo(web.pageUrl, path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: web.pageUrl.replace(/\/$/, '') },
      body: JSON.stringify(body),
    });
  /** A page's join request: `signer`'s membership of the room as `name`, with its verifier. */
  const claimOf = (signer: Signer, name: string, joinedAt = new Date()) => {
    const { key, signature } = signMembership(signer, { room: room.room, name, joinedAt });
    return {
      verifier: storedRoom(registry, room.room).verifier.toString('base64'),
      name,
      key: key.toString('base64'),
      signature: signature.toString('base64'),
      joinedAt: joinedAt.getTime(),
    };
  };
  after(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the page files with the security headers and a strict CSP, gzipped when asked', async function () {
    const web = await startWebServe(env, running);
    const ws = `ws://${new URL(web.pageUrl).host}/mqtt`;
    const types = {
      '/': 'text/html; charset=utf-8',
      '/main.js': 'text/javascript; charset=utf-8',
      '/scrypt-worker.js': 'text/javascript; charset=utf-8',
      '/style.css': 'text/css; charset=utf-8',
      '/favicon.svg': 'image/svg+xml',
    };
    for (const [path, type] of Object.entries(types)) {
      const plain = await httpTo(web.pageUrl, path);
      expect(plain.status, path).to.equal(200);
      expect(plain.headers, path).to.include({ ...SECURITY_HEADERS, 'content-type': type });
      expect(plain.headers['content-security-policy'], path).to.equal(csp(ws));
      expect(plain.headers['content-encoding'], path).to.equal(undefined);
      const gzipped = await httpTo(web.pageUrl, path, {
        headers: { 'accept-encoding': 'gzip, br' },
      });
      expect(gzipped.headers['content-encoding'], path).to.equal('gzip');
      expect(gunzipSync(gzipped.body).equals(plain.body), path).to.equal(true);
      const head = await httpTo(web.pageUrl, path, { method: 'HEAD' });
      expect([head.status, head.body.length], path).to.deep.equal([200, 0]);
    }
    expect((await httpTo(web.pageUrl, '/')).body.toString()).to.include('src="/main.js"');
    // Ctrl-C stops it all, the registry closed.
    web.program.child.kill('SIGINT');
    expect(await web.program.exited).to.equal(0);
    expect(web.program.stderr()).to.match(
      /The room page is at http:\/\/127\.0\.0\.1:\d+\/ .*\nbroker stopped\n$/,
    );
  });

  it('answers 404 to every other path (traversals too) and 405 to other methods, with the same headers', async function () {
    const web = await startWebServe(env, running);
    const paths = [
      '/index.html',
      '/../package.json',
      '/%2e%2e/package.json',
      '/..%2f..%2fpackage.json',
      '//etc/passwd',
      '/main.js/../../../package.json',
      '/main.js.map',
      '/web/main.js',
      '/src/web/main.ts',
      '/api/rooms',
      '/api/rooms/12345',
      `/api/rooms/${room.room}/../../../package.json`,
      `/api/rooms/${room.room}/verifier`,
    ];
    for (const path of paths) {
      const answer = await httpTo(web.pageUrl, path);
      expect(answer.status, path).to.equal(404);
      expect(answer.headers, path).to.include(SECURITY_HEADERS);
      expect(answer.headers['content-security-policy'], path).to.match(/^default-src 'none';/);
      expect(jsonOf(answer), path).to.have.property('error');
    }
    const wrongMethods: [string, string, string][] = [
      ['PUT', '/', 'GET, HEAD'],
      ['POST', '/main.js', 'GET, HEAD'],
      ['DELETE', `/api/rooms/${room.room}`, 'GET, HEAD'],
      ['POST', `/api/rooms/${room.room}`, 'GET, HEAD'],
      ['GET', `/api/rooms/${room.room}/check`, 'POST'],
    ];
    for (const [method, path, allow] of wrongMethods) {
      const answer = await httpTo(web.pageUrl, path, { method });
      expect(answer.status, `${method} ${path}`).to.equal(405);
      expect(answer.headers.allow, `${method} ${path}`).to.equal(allow);
      expect(answer.headers, path).to.include(SECURITY_HEADERS);
    }
    expect((await httpTo(web.pageUrl, '/nothing', { method: 'PATCH' })).status).to.equal(405);
  });

  it("gives an open room's public record without its verifier; unknown, closed and altered rooms are not served", async function () {
    const closed = await createRoomWithPassword(env);
    const altered = await createRoomWithPassword(env);
    const close = await runProgram('room', ['close', closed.room], { env });
    expect(close.code, close.stderr).to.be.oneOf([0, 4]); // 4: no broker to tell, closed all the same
    const { kdf, verifier } = storedRoom(registry, altered.room);
    alterRoomRecord(registry, altered.room, { kdf: JSON.stringify({ ...kdf, N: 2 ** 22 }) });
    const web = await startWebServe(env, running);

    const answer = await httpTo(web.pageUrl, `/api/rooms/${room.room}`);
    expect(answer.status).to.equal(200);
    expect(answer.headers['content-type']).to.equal('application/json; charset=utf-8');
    expect(answer.headers).to.include(SECURITY_HEADERS);
    const record = storedRoom(registry, room.room);
    expect(jsonOf(answer)).to.deep.equal({
      room: room.room,
      mode: 'encrypted',
      kdf: record.kdf,
      broker: `ws://${new URL(web.pageUrl).host}/mqtt`,
      topic: `sunoye/room/${room.room}`,
      history: true,
    });
    const text = answer.body.toString();
    for (const form of ['base64', 'hex', 'base64url'] as const)
      expect(text).not.to.include(record.verifier.toString(form));

    for (const [number, why] of [
      ['999999', 'unknown'],
      [closed.room, 'closed'],
    ]) {
      const missing = await httpTo(web.pageUrl, `/api/rooms/${number}`);
      expect(missing.status, why).to.equal(404);
      expect(jsonOf(missing), why).to.deep.equal({ error: `there is no open room ${number} here` });
    }
    const refused = await httpTo(web.pageUrl, `/api/rooms/${altered.room}`);
    expect(refused.status).to.equal(500);
    expect(jsonOf(refused)).to.deep.equal({
      error: `room ${altered.room}'s record in the registry is invalid; it is not served`,
    });
    await stderrSays(web.program, `room ${altered.room}'s record is not served`);
    // Nor is its password checked, even with its own verifier.
    expect((await check(web, altered.room, verifier)).status).to.equal(500);
    expect(
      (await check(web, closed.room, storedRoom(registry, closed.room).verifier)).status,
    ).to.equal(404);
  });

  it("checks a password's verifier: 204 when it is the room's, 403 when not, and refuses odd requests", async function () {
    const web = await startWebServe(env, running);
    const { kdf } = storedRoom(registry, room.room);
    // The page's own derivation (WebCrypto and noble's scrypt), here in Node.
    const secret = deriveRoomSecretWeb(room.password, kdf);
    const right = Buffer.from(await verifierWeb(secret, room.room, 'encrypted'));
    const ok = await check(web, room.room, right);
    expect(ok.status).to.equal(204);
    expect(ok.body.length).to.equal(0);
    expect(ok.headers).to.include(SECURITY_HEADERS);
    const wrong = await check(web, room.room, Buffer.alloc(right.length, 7));
    expect([wrong.status, jsonOf(wrong)]).to.deep.equal([403, { error: 'wrong password' }]);
    expect((await check(web, room.room, right.subarray(1))).status, 'shorter').to.equal(403);
    expect((await check(web, room.room, 'not base64!')).status).to.equal(400);
    expect((await check(web, '999999', right)).status).to.equal(404);

    const path = `/api/rooms/${room.room}/check`;
    const json = { 'content-type': 'application/json' };
    const big = JSON.stringify({ verifier: right.toString('base64'), pad: 'x'.repeat(1024) });
    const tooBig = await httpTo(web.pageUrl, path, { method: 'POST', headers: json, body: big });
    expect(tooBig.status).to.equal(413);
    const asText = await httpTo(web.pageUrl, path, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ verifier: right.toString('base64') }),
    });
    expect(asText.status, 'not JSON: a cross-origin form could send it').to.equal(415);
    const elsewhere = await httpTo(web.pageUrl, path, {
      method: 'POST',
      headers: { ...json, origin: 'http://evil.example' },
      body: JSON.stringify({ verifier: right.toString('base64') }),
    });
    expect(elsewhere.status, 'from another origin').to.equal(403);
  });

  it('refuses the 11th wrong check within a minute from one address (429, Retry-After), right ones too', async function () {
    const web = await startWebServe(env, running);
    const { verifier } = storedRoom(registry, room.room);
    for (let i = 0; i < 10; i++)
      expect((await check(web, room.room, Buffer.alloc(32, i))).status, `try ${i}`).to.equal(403);
    const limited = await check(web, room.room, Buffer.alloc(32, 99));
    expect(limited.status).to.equal(429);
    expect(Number(limited.headers['retry-after'])).to.be.within(1, 60);
    expect(jsonOf(limited).error).to.match(/^too many wrong passwords; try again in \d+ s$/);
    expect((await check(web, room.room, verifier)).status, 'even the right one').to.equal(429);
  });

  it("registers a page's own signed membership, renews and ends it; refuses wrong passwords and signatures", async function () {
    const web = await startWebServe(env, running);
    const post = postFrom(web);
    const signer = newSigner();
    const claim = (name: string, joinedAt = new Date()) => claimOf(signer, name, joinedAt);
    const members = async (): Promise<Record<string, unknown>[]> => {
      const info = await runProgram('room', ['info', room.room, '--json'], { env });
      expect(info.code, info.stderr).to.equal(0);
      return (JSON.parse(info.stdout) as { memberships: Record<string, unknown>[] }).memberships;
    };
    // Refused: a wrong password, a signature for another name, one signed long ago, malformed.
    const wrong = { ...claim('pagey'), verifier: Buffer.alloc(32).toString('base64') };
    expect((await post(`/api/rooms/${room.room}/members`, wrong)).status).to.equal(403);
    const renamed = { ...claim('pagey'), name: 'alice' };
    const refused = await post(`/api/rooms/${room.room}/members`, renamed);
    expect([refused.status, jsonOf(refused).error]).to.deep.equal([
      403,
      'the membership is not signed by its key',
    ]);
    const old = claim('pagey', new Date(Date.now() - 10 * 60_000));
    expect((await post(`/api/rooms/${room.room}/members`, old)).status).to.equal(403);
    expect((await post(`/api/rooms/${room.room}/members`, { name: 'pagey' })).status).to.equal(400);
    expect(await members()).to.deep.equal([]);
    // Registered: `room info` lists the page under its own key, its signature checked there.
    const joined = await post(`/api/rooms/${room.room}/members`, claim('pagey'));
    expect(joined.status).to.equal(201);
    const { id } = jsonOf(joined) as { id: string };
    expect(await members()).to.have.deep.nested.property('[0].name', 'pagey');
    expect((await members())[0]).to.include({ key: fingerprint(signer.publicKey) });
    expect((await members())[0]!.trust).to.not.equal('unverified');
    expect((await post(`/api/members/${id}/heartbeat`, {})).status).to.equal(204);
    expect((await post(`/api/members/${id}/leave`, {})).status).to.equal(204);
    expect(await members()).to.deep.equal([]);
    expect((await post(`/api/members/${id}/heartbeat`, {})).status).to.equal(410);
    // An id nobody was given is nobody's.
    expect((await post(`/api/members/${'0'.repeat(32)}/leave`, {})).status).to.equal(410);
  });

  it("keeps a page's own lines through its membership, and gives the history back only for the room's verifier", async function () {
    const web = await startWebServe(env, running);
    const { verifier } = storedRoom(registry, room.room);
    const post = postFrom(web);
    const signer = newSigner();
    const key = signer.publicKey;
    const joined = await post(`/api/rooms/${room.room}/members`, claimOf(signer, 'pagey'));
    expect(joined.status).to.equal(201);
    const { id } = jsonOf(joined) as { id: string };
    const secret = Buffer.from(pageSecret(registry, room.room, room.password));
    const codec = roomCodec(room.room, 'encrypted', secret, signer);
    const sender = new Sender('pagey');
    const said = [sender.message('first'), sender.message('second')];
    const rows = said.map((p) => ({
      sender: sender.id,
      firstSeq: p.seq,
      lastSeq: p.seq,
      payload: Buffer.from(codec.encode(p)).toString('base64'),
    }));
    const read = (body: Record<string, unknown>) =>
      post(`/api/rooms/${room.room}/history`, { verifier: verifier.toString('base64'), ...body });
    const before = jsonOf(await read({ last: 100 })) as { rows: { payload: string }[] };
    // Refused: no such membership, rows that are not rows, too many at once.
    expect((await post(`/api/members/${'0'.repeat(32)}/history`, { rows })).status).to.equal(410);
    for (const bad of [
      {},
      { rows: [] },
      { rows: [{ ...rows[0], sender: 'x' }] },
      { rows: [{ ...rows[0], firstSeq: 2, lastSeq: 1 }] },
      { rows: [{ ...rows[0], payload: 'not base64!' }] },
      { rows: Array.from({ length: 257 }, () => rows[0]) },
    ]) {
      const refused = await post(`/api/members/${id}/history`, bad);
      expect(refused.status, JSON.stringify(bad).slice(0, 80)).to.equal(400);
    }
    expect((await post(`/api/members/${id}/history`, { rows })).status).to.equal(204);
    // Read back with the verifier: the rows as sent, under the membership's key (the page names
    // none: it keeps only its own lines).
    const after = await read({ last: 100 });
    expect(after.status).to.equal(200);
    const got = (jsonOf(after) as { rows: Record<string, unknown>[] }).rows.slice(
      before.rows.length,
    );
    expect(got.map((r) => [r.payload, r.signer, r.sender, r.firstSeq])).to.deep.equal(
      rows.map((r) => [r.payload, key.toString('base64'), sender.id, r.firstSeq]),
    );
    // A wrong password reads nothing; a malformed read is refused.
    const wrong = await post(`/api/rooms/${room.room}/history`, {
      verifier: Buffer.alloc(32, 1).toString('base64'),
      last: 10,
    });
    expect([wrong.status, JSON.stringify(jsonOf(wrong))]).to.deep.equal([
      403,
      '{"error":"wrong password"}',
    ]);
    expect((await read({ last: -1 })).status).to.equal(400);
    expect((await read({ sinceMs: 'yesterday' })).status).to.equal(400);
    // After leaving, the membership keeps nothing more.
    expect((await post(`/api/members/${id}/leave`, {})).status).to.equal(204);
    expect((await post(`/api/members/${id}/history`, { rows })).status).to.equal(410);
  });

  it('gives a page the rows of one sender stream that a gap asks for, and refuses a stream that is not one', async function () {
    const web = await startWebServe(env, running);
    const { verifier } = storedRoom(registry, room.room);
    const origin = web.pageUrl.replace(/\/$/, '');
    const post = (path: string, body: unknown) =>
      httpTo(web.pageUrl, path, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin },
        body: JSON.stringify(body),
      });
    const signer = newSigner();
    const joinedAt = new Date();
    const { key, signature } = signMembership(signer, { room: room.room, name: 'pagey', joinedAt });
    const joined = await post(`/api/rooms/${room.room}/members`, {
      verifier: verifier.toString('base64'),
      name: 'pagey',
      key: key.toString('base64'),
      signature: signature.toString('base64'),
      joinedAt: joinedAt.getTime(),
    });
    expect(joined.status).to.equal(201);
    const { id } = jsonOf(joined) as { id: string };
    const secret = Buffer.from(pageSecret(registry, room.room, room.password));
    const codec = roomCodec(room.room, 'encrypted', secret, signer);
    // Two streams under the one key, four lines each, a row a line.
    const senders = [new Sender('pagey'), new Sender('pagey')];
    const rows = senders.flatMap((sender) =>
      [1, 2, 3, 4].map((n) => {
        const p = sender.message(`line ${n}`);
        return {
          sender: sender.id,
          firstSeq: p.seq,
          lastSeq: p.seq,
          payload: Buffer.from(codec.encode(p)).toString('base64'),
        };
      }),
    );
    expect((await post(`/api/members/${id}/history`, { rows })).status).to.equal(204);
    const read = (body: Record<string, unknown>) =>
      post(`/api/rooms/${room.room}/history`, { verifier: verifier.toString('base64'), ...body });
    const stream = {
      signer: key.toString('base64'),
      sender: senders[1]!.id,
      fromSeq: 2,
      toSeq: 3,
    };
    const got = await read({ stream });
    expect(got.status).to.equal(200);
    const found = (jsonOf(got) as { rows: Record<string, unknown>[] }).rows;
    expect(found.map((r) => [r.signer, r.sender, r.firstSeq, r.payload])).to.deep.equal(
      rows.slice(5, 7).map((r) => [key.toString('base64'), r.sender, r.firstSeq, r.payload]),
    );
    // Another key's stream of the same sender id holds nothing.
    const other = await read({
      stream: { ...stream, signer: newSigner().publicKey.toString('base64') },
    });
    expect((jsonOf(other) as { rows: unknown[] }).rows).to.deep.equal([]);
    for (const bad of [
      'all',
      { ...stream, signer: 'not base64!' },
      { ...stream, signer: Buffer.alloc(16).toString('base64') },
      { ...stream, sender: '' },
      { ...stream, sender: 'x'.repeat(33) },
      { ...stream, fromSeq: 3, toSeq: 2 },
      { ...stream, fromSeq: -1 },
      { ...stream, toSeq: 2 ** 53 },
      { ...stream, fromSeq: '2' },
    ]) {
      const refused = await read({ stream: bad });
      expect(refused.status, JSON.stringify(bad).slice(0, 80)).to.equal(400);
    }
    expect((await post(`/api/members/${id}/leave`, {})).status).to.equal(204);
  });

  it('ends the memberships it holds when it stops', async function () {
    const web = await startWebServe(env, running);
    const joined = await postFrom(web)(
      `/api/rooms/${room.room}/members`,
      claimOf(newSigner(), 'pagey'),
    );
    expect(joined.status).to.equal(201);
    web.program.child.kill('SIGINT');
    expect(await web.program.exited).to.equal(0);
    const info = await runProgram('room', ['info', room.room, '--json'], { env });
    expect((JSON.parse(info.stdout) as { memberships: unknown[] }).memberships).to.deep.equal([]);
  });

  it('refuses WebSocket upgrades from another origin, and takes those with none or its own', async function () {
    const web = await startWebServe(env, running);
    const own = web.pageUrl.replace(/\/$/, '');
    const upgrade = (origin: string | undefined): Promise<number> =>
      new Promise((resolve, reject) => {
        const socket = new WebSocket(`${web.wsUrl}/mqtt`, 'mqtt', origin ? { origin } : {});
        socket.once('open', () => {
          socket.close();
          resolve(101);
        });
        socket.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          socket.terminate();
        });
        socket.once('error', reject);
      });
    expect(await upgrade('http://evil.example')).to.equal(403);
    expect(await upgrade(`${own}.evil.example`)).to.equal(403);
    expect(await upgrade('null')).to.equal(403);
    expect(await upgrade(undefined), 'a terminal program sends no Origin').to.equal(101);
    expect(await upgrade(own), "the page's own origin").to.equal(101);
  });

  it('answers only requests that name a loopback host when it listens on one (no DNS rebinding)', async function () {
    const web = await startWebServe(env, running);
    const { port } = new URL(web.pageUrl);
    for (const name of ['127.0.0.1', 'localhost', '[::1]', 'LOCALHOST']) {
      const answer = await httpTo(web.pageUrl, '/', { headers: { host: `${name}:${port}` } });
      expect(answer.status, name).to.equal(200);
      expect(answer.headers['content-security-policy'], name).to.include(
        `connect-src 'self' ws://${name}:${port}/mqtt;`,
      );
    }
    for (const host of [
      `evil.example:${port}`,
      `127.0.0.1.evil.example:${port}`,
      'a b',
      'localhost.',
    ]) {
      const answer = await httpTo(web.pageUrl, `/api/rooms/${room.room}`, { headers: { host } });
      expect(answer.status, host).to.equal(400);
      expect(jsonOf(answer), host).to.deep.equal({
        error: 'a Host header that names this server is needed',
      });
    }
    // A page of evil.example, its name made to resolve to 127.0.0.1, opens no WebSocket.
    const upgrade = (headers: Record<string, string>) =>
      new Promise<number>((resolve, reject) => {
        const req = httpRequest({
          host: '127.0.0.1',
          port,
          path: '/mqtt',
          headers: {
            connection: 'Upgrade',
            upgrade: 'websocket',
            'sec-websocket-version': '13',
            'sec-websocket-key': randomBytes(16).toString('base64'),
            'sec-websocket-protocol': 'mqtt',
            ...headers,
          },
        });
        req.once('upgrade', (_res, socket) => {
          socket.destroy();
          resolve(101);
        });
        req.once('response', (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end();
      });
    const evil = `evil.example:${port}`;
    expect(await upgrade({ host: evil, origin: `http://${evil}` })).to.equal(403);
    expect(
      await upgrade({ host: `localhost:${port}`, origin: `http://localhost:${port}` }),
    ).to.equal(101);
  });

  it('gives --web-broker to the page and its CSP, and refuses usage errors with exit 2', async function () {
    const other = 'wss://chat.example:9001/mqtt';
    const web = await startWebServe(env, running, ['--web-broker', other]);
    const answer = await httpTo(web.pageUrl, `/api/rooms/${room.room}`);
    expect(jsonOf(answer).broker).to.equal(other);
    expect(answer.headers['content-security-policy']).to.equal(csp(other));

    for (const [args, message] of [
      [['--web-broker', other], '--web-broker goes with --web'],
      [['--web', '--web-broker', 'http://chat.example/'], '--web-broker must be a ws:// or wss://'],
      [
        ['--web', '--web-broker', "ws://chat.example/a;b'"],
        '--web-broker must be a ws:// or wss://',
      ],
      [
        ['--web', '--web-broker', 'ws://u:p@chat.example/'],
        '--web-broker must be a ws:// or wss://',
      ],
      [['--web', '--ws-port', '70000'], '--ws-port must be from 0 to 65535'],
    ] as const) {
      const run = await runProgram('room', ['serve', '--port', '0', ...args], { env });
      expect(run.code, args.join(' ')).to.equal(2);
      expect(run.stderr, args.join(' ')).to.include(message);
    }
  });
});
