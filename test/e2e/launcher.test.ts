import { expect } from 'chai';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAedes } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { createRoom } from '../helpers/programs.js';

describe('compile cache of the programs', function () {
  let dir: string;
  let cache: string;
  let env: Record<string, string>;

  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-launcher-'));
    cache = join(dir, 'cache', 'sunoye');
    env = {
      HOME: dir,
      XDG_CACHE_HOME: join(dir, 'cache'),
      SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
    };
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const list = async (extra: Record<string, string> = {}): Promise<string> => {
    const run = await runProgram('room', ['list', '--json'], { env: { ...env, ...extra } });
    expect(run.code, run.stderr).to.equal(0);
    expect(run.stderr).to.equal('');
    return run.stdout;
  };
  const files = (): string[] => readdirSync(cache).filter((f) => f.startsWith('room-'));

  it('keeps compiled code in a private folder and runs the same from it', async function () {
    const first = await list();
    expect(statSync(cache).mode & 0o777).to.equal(0o700);
    const [file] = files();
    expect(file).to.match(/^room-[0-9a-f]{16}-v\d+\.\d+\.\d+-\w+\.bin$/);
    const written = statSync(join(cache, file!));
    expect(written.mode & 0o777).to.equal(0o600);
    expect(written.size).to.be.above(10_000);
    expect(await list()).to.equal(first);
    // Read, not written again.
    expect(files()).to.deep.equal([file]);
    expect(statSync(join(cache, file!)).mtimeMs).to.equal(written.mtimeMs);
  });

  it('replaces a cache this Node does not accept, and runs anyway', async function () {
    const first = await list();
    const [file] = files();
    writeFileSync(join(cache, file!), 'not compiled code at all');
    expect(await list()).to.equal(first);
    expect(statSync(join(cache, file!)).size).to.be.above(10_000);
    // A cache of an earlier build is removed when a new one is written; another Node's is kept.
    const older = file!.replace(/^room-[0-9a-f]{16}/, 'room-0000000000000000');
    writeFileSync(join(cache, older), 'old');
    writeFileSync(join(cache, 'room-0000000000000000-v0.0.0-x.bin'), 'other node');
    rmSync(join(cache, file!));
    await list();
    expect(files().sort()).to.deep.equal([file, 'room-0000000000000000-v0.0.0-x.bin'].sort());
  });

  it('saves it before a streaming run changes V8 settings, so the next run accepts it', async function () {
    const broker = await startAedes();
    try {
      const chat = { ...env, SUNOYE_BROKER: broker.url };
      const room = await createRoom(chat);
      const piped = await runProgram('publish', [room], { env: chat, input: 'one\ntwo\n' });
      expect(piped.code, piped.stderr).to.equal(0);
      const [file] = readdirSync(cache).filter((f) => f.startsWith('publish-'));
      const written = statSync(join(cache, file!)).mtimeMs;
      for (const args of [['-m', 'three'], []]) {
        const run = await runProgram('publish', [room, ...args], { env: chat, input: 'four\n' });
        expect(run.code, run.stderr).to.equal(0);
      }
      // Made under V8's first settings, it is accepted by the next runs, not written again.
      expect(statSync(join(cache, file!)).mtimeMs).to.equal(written);
    } finally {
      await broker.stop();
    }
  });

  it('uses no folder that others can write to, and none when turned off', async function () {
    mkdirSync(cache, { recursive: true });
    chmodSync(cache, 0o777);
    const first = await list();
    expect(files()).to.deep.equal([]);
    chmodSync(cache, 0o700);
    expect(await list({ NODE_DISABLE_COMPILE_CACHE: '1' })).to.equal(first);
    expect(files()).to.deep.equal([]);
    // A cache location that cannot be a folder: no cache, no error.
    writeFileSync(join(dir, 'file'), '');
    expect(await list({ XDG_CACHE_HOME: join(dir, 'file') })).to.equal(first);
  });
});
