import { expect } from 'chai';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import nodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAedes } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { createRoom } from '../helpers/programs.js';

/** Node 22 and later keep the cache themselves (`module.enableCompileCache`); Node 20, the launcher. */
const nodeKeepsIt =
  typeof (nodeModule as { enableCompileCache?: unknown }).enableCompileCache === 'function';

describe(`compile cache of the programs (${nodeKeepsIt ? "Node's own" : "the launcher's"})`, function () {
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
  /**
   * The cache's files, by path in the folder: the launcher's for `program` on Node 20, Node's own
   * (in a folder per Node version, for all programs) on 22 and later.
   */
  const cached = (program: string): Map<string, { mtimeMs: number; size: number }> => {
    const names = (readdirSync(cache, { recursive: true }) as string[]).filter((name) =>
      nodeKeepsIt ? name.includes('/') : name.startsWith(`${program}-`),
    );
    const found = new Map<string, { mtimeMs: number; size: number }>();
    for (const name of names) {
      const st = statSync(join(cache, name));
      if (st.isFile()) found.set(name, { mtimeMs: st.mtimeMs, size: st.size });
    }
    return found;
  };

  it('keeps compiled code in a private folder and runs the same from it', async function () {
    const first = await list();
    expect(statSync(cache).mode & 0o777).to.equal(0o700);
    const written = cached('room');
    expect(written.size).to.be.above(0);
    for (const [name, { size }] of written) {
      if (nodeKeepsIt) expect(name.startsWith(`${process.version}-`), name).to.equal(true);
      else expect(name).to.match(/^room-[0-9a-f]{16}-v\d+\.\d+\.\d+-\w+\.bin$/);
      expect(statSync(join(cache, name)).mode & 0o777).to.equal(0o600);
      expect(size).to.be.above(10_000);
    }
    expect(await list()).to.equal(first);
    // Read, not written again.
    expect(cached('room')).to.deep.equal(written);
  });

  it('makes its folder in an existing home, and no home that does not exist', async function () {
    const home = join(dir, 'home');
    mkdirSync(home);
    const withHome = await runProgram('room', ['--version'], { env: { HOME: home } });
    expect(withHome.code, withHome.stderr).to.equal(0);
    expect(statSync(join(home, '.cache', 'sunoye')).isDirectory()).to.equal(true);
    // HOME=/nonexistent (services, sandboxes) or a cache folder in a missing one: no cache, and
    // nothing made.
    const missing = join(dir, 'nonexistent');
    const cases: Record<string, string>[] = [
      { HOME: missing },
      { XDG_CACHE_HOME: join(missing, 'cache') },
    ];
    for (const extra of cases) {
      const run = await runProgram('room', ['--version'], { env: { HOME: home, ...extra } });
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.match(/^\d+\.\d+\.\d+\n$/);
      expect(existsSync(missing), JSON.stringify(extra)).to.equal(false);
    }
  });

  it('replaces a cache this Node does not accept, and runs anyway', async function () {
    const first = await list();
    const written = cached('room');
    for (const name of written.keys()) writeFileSync(join(cache, name), 'not compiled code at all');
    expect(await list()).to.equal(first);
    expect([...cached('room').keys()]).to.deep.equal([...written.keys()]);
    for (const { size } of cached('room').values()) expect(size).to.be.above(10_000);
    if (nodeKeepsIt) return;
    // The launcher removes a cache of an earlier build when it writes a new one; another Node's is kept.
    const [file] = written.keys();
    const older = file!.replace(/^room-[0-9a-f]{16}/, 'room-0000000000000000');
    writeFileSync(join(cache, older), 'old');
    writeFileSync(join(cache, 'room-0000000000000000-v0.0.0-x.bin'), 'other node');
    rmSync(join(cache, file!));
    await list();
    expect([...cached('room').keys()].sort()).to.deep.equal(
      [file, 'room-0000000000000000-v0.0.0-x.bin'].sort(),
    );
  });

  it("leaves the other kind's cache alone (Node 20's launcher, Node 22's own)", async function () {
    mkdirSync(join(cache, 'v0.0.0-x-00000000-0'), { recursive: true });
    writeFileSync(join(cache, 'v0.0.0-x-00000000-0', '0000'), 'Node 22 and later');
    writeFileSync(join(cache, 'room-0000000000000000-v0.0.0-x.bin'), 'Node 20');
    await list();
    await list();
    expect(readdirSync(join(cache, 'v0.0.0-x-00000000-0'))).to.deep.equal(['0000']);
    expect(readdirSync(cache)).to.include('room-0000000000000000-v0.0.0-x.bin');
  });

  it("makes it under V8's first settings, which a streaming run changes, so later runs accept it", async function () {
    const broker = await startAedes();
    try {
      const chat = { ...env, SUNOYE_BROKER: broker.url };
      const room = await createRoom(chat);
      const piped = await runProgram('publish', [room], { env: chat, input: 'one\ntwo\n' });
      expect(piped.code, piped.stderr).to.equal(0);
      const written = cached('publish');
      expect(written.size).to.be.above(0);
      // On Node 20 the vendor bundle it loads (MQTT.js) has a cache file of its own.
      const vendor = cached('mqtt.cjs');
      if (!nodeKeepsIt) expect([...vendor.keys()]).to.have.length(1);
      for (const args of [['-m', 'three'], []]) {
        const run = await runProgram('publish', [room, ...args], { env: chat, input: 'four\n' });
        expect(run.code, run.stderr).to.equal(0);
      }
      // Made under V8's first settings, it is accepted by the next runs, not written again.
      const after = cached('publish');
      for (const [name, file] of written) expect(after.get(name), name).to.deep.equal(file);
      const vendorAfter = cached('mqtt.cjs');
      for (const [name, file] of vendor) expect(vendorAfter.get(name), name).to.deep.equal(file);
    } finally {
      await broker.stop();
    }
  });

  it('uses no folder that others can write to, and none when turned off', async function () {
    mkdirSync(cache, { recursive: true });
    chmodSync(cache, 0o777);
    const first = await list();
    expect(readdirSync(cache)).to.deep.equal([]);
    chmodSync(cache, 0o700);
    expect(await list({ NODE_DISABLE_COMPILE_CACHE: '1' })).to.equal(first);
    expect(readdirSync(cache)).to.deep.equal([]);
    // A cache location that cannot be a folder: no cache, no error.
    writeFileSync(join(dir, 'file'), '');
    expect(await list({ XDG_CACHE_HOME: join(dir, 'file') })).to.equal(first);
  });
});
