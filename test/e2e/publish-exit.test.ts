// How `publish` ends: once every message is acknowledged, its line kept in the room's history and
// its output written, the process ends at once. A SQLite registry is not closed first (closing
// would copy SQLite's log into the file, three fsyncs): its log keeps the line, committed, and
// the next program to close the registry copies it in. The broker gets a clean DISCONNECT and
// the end of the connection, without publish waiting for the broker to close its side.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import {
  byStream,
  createHistoryRoom,
  DAY_OF_HISTORY,
  openAll,
  readAllHistory,
} from '../helpers/history.js';
import { waitFor } from '../helpers/wait.js';
import { scratchUser } from '../helpers/window.js';

describe('publish, at its end', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  let file: string;
  const user = (name: string, extra: Record<string, string> = {}) =>
    scratchUser(dir, broker.url, name, extra);

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-publish-exit-'));
    broker = await startAedes();
    file = join(dir, 'registry.db');
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('keeps -m and piped lines in the history, leaving the SQLite log to the next program to close the registry', async function () {
    const { room, password, codec } = await createHistoryRoom(`sqlite:${file}`, DAY_OF_HISTORY);
    const alice = user('alice', { SUNOYE_PASSWORD: password });
    // Closed cleanly by the last program that had it open: no log beside the file.
    expect(existsSync(`${file}-wal`), 'log before').to.equal(false);

    const one = await runProgram('publish', [room, '-m', 'one line', '--json'], { env: alice });
    expect(one.code, one.stderr).to.equal(0);
    expect(JSON.parse(one.stdout)).to.deep.equal({
      room,
      topic: `sunoye/room/${room}`,
      read: 1,
      sent: 1,
      delivered: 1,
    });
    // Ended without closing the registry: the line is in SQLite's log, not copied into the file.
    expect(existsSync(`${file}-wal`), 'log after publish -m').to.equal(true);

    const piped = await runProgram('publish', [room], { env: alice, input: 'two\nthree\n' });
    expect(piped.code, piped.stderr).to.equal(0);
    expect(piped.stderr).to.include(`sent 2 messages to room ${room}`);

    // The next program that closes the registry copies the log into the file, and removes it.
    const info = await runProgram('room', ['info', room], { env: alice });
    expect(info.code, info.stderr).to.equal(0);
    expect(existsSync(`${file}-wal`), 'log after room info').to.equal(false);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).to.equal('ok');
    } finally {
      db.close();
    }
    // Every line is there, each publish a stream of its own.
    const opened = openAll(codec, await readAllHistory(`sqlite:${file}`, room));
    const texts = opened
      .flatMap((row) => row.payloads)
      .filter((p) => p.type === 'message')
      .map((p) => p.message);
    expect(texts).to.deep.equal(['one line', 'two', 'three']);
    expect(byStream(opened).size).to.equal(2);
  });

  it('ends its connection with a DISCONNECT and the end of the stream, never a reset', async function () {
    const { room, password } = await createHistoryRoom(`sqlite:${file}`, DAY_OF_HISTORY);
    // A proxy in front of the broker sees what publish sends, and how its side ends.
    const seen: { bytes: Buffer[]; ended: boolean; error: string | undefined }[] = [];
    const proxy = createServer((client: Socket) => {
      const record = {
        bytes: [] as Buffer[],
        ended: false,
        error: undefined as string | undefined,
      };
      seen.push(record);
      const upstream = connect(broker.port, '127.0.0.1');
      client.on('data', (chunk: Buffer) => record.bytes.push(chunk));
      client.on('end', () => (record.ended = true));
      client.on('error', (err: NodeJS.ErrnoException) => (record.error = err.code ?? err.message));
      upstream.on('error', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const env = user('carol', {
        SUNOYE_PASSWORD: password,
        SUNOYE_BROKER: `mqtt://127.0.0.1:${port}`,
        // aedes takes 3.1.1 only: asked at once, not after MQTT 5 (a connection of its own).
        SUNOYE_MQTT_VERSION: '3.1.1',
      });
      for (const args of [
        [room, '-m', 'bye'],
        [room, 'two', 'words'],
      ]) {
        const sent = await runProgram('publish', args, { env });
        expect(sent.code, sent.stderr).to.equal(0);
      }
      await waitFor(
        'both connections to end',
        () => seen.length === 2 && seen.every((r) => r.ended || r.error !== undefined),
      );
      for (const record of seen) {
        expect(record.error, 'a reset').to.equal(undefined);
        expect(record.ended, 'the end of the stream').to.equal(true);
        // The last packet is a DISCONNECT (MQTT 3.1.1's: e0 00).
        const bytes = Buffer.concat(record.bytes);
        expect(bytes.subarray(-2).toString('hex')).to.equal('e000');
      }
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });
});
