// The CLI's words as a newcomer reads them (issue 21, the leftovers of items 2, 7 and 8): advice
// that fits a remembered room, help that says what the program takes and reads, options named as
// typed, a port that is not MQTT's said to be so, and texts that point at sections that exist.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { createRoomWithPassword } from '../helpers/programs.js';

/** The repository (the tests run from dist/test/e2e). */
const repo = fileURLToPath(new URL('../../../', import.meta.url));

describe("the CLI's words", function () {
  this.timeout(60_000);
  let dir: string;
  let brokerA: TestBroker;
  let brokerB: TestBroker;

  /** A person with an account of their own (own HOME and XDG folders). */
  const person = (name: string, settings: Record<string, string> = {}) => ({
    HOME: join(dir, name),
    XDG_CONFIG_HOME: join(dir, name, 'config'),
    XDG_DATA_HOME: join(dir, name, 'data'),
    SUNOYE_NAME: name,
    ...settings,
  });

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-words-'));
    brokerA = await startAedes();
    brokerB = await startAedes();
  });
  after(async function () {
    await brokerB?.stop();
    await brokerA?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('for a room joined with --db and --broker, the broker warning and the leave hint name what it was joined with', async function () {
    const shared = `sqlite:${join(dir, 'shared.db')}`;
    const alice = person('alice', { SUNOYE_DB: shared, SUNOYE_BROKER: brokerB.url });
    const { room, password } = await createRoomWithPassword(alice);
    // Bob's config.json names another broker; he joins with the room's.
    const bob = person('bob');
    mkdirSync(join(dir, 'bob', 'config', 'sunoye'), { recursive: true });
    writeFileSync(
      join(dir, 'bob', 'config', 'sunoye', 'config.json'),
      JSON.stringify({ broker: brokerA.url }),
    );
    const joined = await runProgram(
      'room',
      ['join', room, '--db', shared, '--broker', brokerB.url, '--password-file', '-'],
      { env: bob, input: `${password}\n` },
    );
    expect(joined.code, joined.stderr).to.equal(0);

    // config.json's broker is given, so used; the warning says to leave it out.
    const info = await runProgram('room', ['info', room], { env: bob });
    expect(info.code, info.stderr).to.equal(0);
    expect(info.stderr).to.include(
      'this broker is given (--broker, SUNOYE_BROKER or "broker" in config.json); ' +
        `leave it out to use the one you joined with (mqtt://127.0.0.1:${brokerB.port})`,
    );
    expect(info.stderr).to.not.include('set the broker with --broker or SUNOYE_BROKER');

    // Leaving gives the join line that works: with the room's registry and broker.
    const left = await runProgram('room', ['leave', room], { env: bob });
    expect(left.code, left.stderr).to.equal(0);
    const line = `room join ${room} --db ${shared} --broker mqtt://127.0.0.1:${brokerB.port}`;
    expect(left.stderr).to.equal(`Forgot room ${room}; \`${line}\` remembers it again.\n`);
    expect(left.stderr).to.not.include(password);
    const again = await runProgram('room', line.split(' ').slice(1), {
      env: { ...bob, SUNOYE_PASSWORD: password },
    });
    expect(again.code, again.stderr).to.equal(0);

    // A room of the configured registry, joined on the configured broker: the bare line.
    const carol = person('carol', { SUNOYE_DB: shared, SUNOYE_BROKER: brokerB.url });
    const carolJoined = await runProgram('room', ['join', room, '--password-file', '-'], {
      env: carol,
      input: `${password}\n`,
    });
    expect(carolJoined.code, carolJoined.stderr).to.equal(0);
    const carolLeft = await runProgram('room', ['leave', room], { env: carol });
    expect(carolLeft.stderr).to.equal(
      `Forgot room ${room}; \`room join ${room}\` remembers it again.\n`,
    );
  });

  it('help lists room chat as <room>, the same commands everywhere, and every SUNOYE_ variable it reads', async function () {
    const env = person('helper');
    for (const args of [[], ['--help']]) {
      const help = await runProgram('room', args, { env });
      expect(help.stdout).to.match(/^ {2}room chat <room> {3}Chat in a room/m);
      expect(help.stdout).to.not.include('room chat [room]');
    }
    const unknown = await runProgram('room', ['nosuch'], { env });
    const helpUnknown = await runProgram('room', ['help', 'nosuch'], { env });
    expect([unknown.code, helpUnknown.code]).to.deep.equal([2, 2]);
    const listed = (text: string) =>
      /(?:commands|command): (.*)$/m.exec(text)![1]!.split(/, | or /);
    expect(listed(unknown.stderr)).to.include('completion');
    expect(listed(unknown.stderr)).to.deep.equal(listed(helpUnknown.stderr));

    // Every variable the configuration reads is in the Environment line of each program's help.
    const read = new Set(
      ['src/config/config.ts', 'src/room/room-access.ts', 'src/cli/report.ts'].flatMap((file) =>
        [
          ...readFileSync(join(repo, file), 'utf8').matchAll(
            /'(SUNOYE_[A-Z_]+)'|env\.(SUNOYE_[A-Z_]+)/g,
          ),
        ].map((m) => m[1] ?? m[2]!),
      ),
    );
    expect(read.size).to.be.greaterThan(10);
    for (const [program, args] of [
      ['room', ['--help']],
      ['room', ['chat', '--help']],
      ['listen', ['--help']],
      ['publish', ['--help']],
    ] as const) {
      const help = await runProgram(program, [...args], { env });
      const environment = /^Environment: ([^]*?)\.\n/m.exec(help.stdout)![1]!.replaceAll('\n', ' ');
      for (const name of read) expect(environment, `${program} ${args.join(' ')}`).to.include(name);
    }
  });

  it('an option given twice is named as it was typed', async function () {
    const env = person('twice');
    const short = await runProgram('publish', ['123456', '-m', 'a', '-m', 'b'], { env });
    expect(short.code).to.equal(2);
    expect(short.stderr).to.equal('publish: -m was given twice; give it once\n');
    const long = await runProgram('publish', ['123456', '--message', 'a', '--message=b'], { env });
    expect(long.stderr).to.equal('publish: --message was given twice; give it once\n');
    const both = await runProgram('publish', ['123456', '-m', 'a', '--message', 'b'], { env });
    expect(both.code).to.equal(2);
    expect(both.stderr).to.equal(
      'publish: -m and --message are one option, given twice; give it once\n',
    );
  });

  describe('a port where something else than MQTT answers', function () {
    let server: Server;
    let port: number;
    const sockets = new Set<Socket>();

    before(async function () {
      // A MariaDB server greets first: a packet of 110 bytes (0x6e, which MQTT reads as a PUBREL
      // with wrong flags), protocol 10, its version.
      const version = Buffer.from('5.5.5-10.11.6-MariaDB-0+deb12u1\0', 'latin1');
      const body = Buffer.concat([Buffer.from([10]), version]);
      const greeting = Buffer.concat([
        Buffer.from([110, 0, 0, 0]),
        body,
        Buffer.alloc(110 - body.length, 0x2a),
      ]);
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => undefined);
        socket.write(greeting);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      port = (server.address() as { port: number }).port;
    });
    after(async function () {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server?.close(resolve));
    });

    it('is said to have sent something that is not MQTT, with the question what it is', async function () {
      const env = person('mysqlport', { SUNOYE_BROKER: brokerA.url });
      const { room } = await createRoomWithPassword(env);
      const started = Date.now();
      const sent = await runProgram(
        'publish',
        [room, 'x', '--broker', `127.0.0.1:${port}`, '--connect-timeout', '20'],
        { env },
      );
      expect(sent.code, sent.stderr).to.equal(4);
      expect(sent.stderr).to.include(
        `publish: cannot connect to the broker mqtt://127.0.0.1:${port}: it sent something that is not MQTT ` +
          '(Invalid header flag bits, must be 0x2 for pubrel packet); is this an MQTT broker? ' +
          'Check the host and the port',
      );
      // Said at once, not after the connect timeout.
      expect(Date.now() - started).to.be.below(15_000);
    });
  });

  it('texts that cite a section of the README or docs/ cite one that exists', function () {
    const headings = (file: string) =>
      readFileSync(join(repo, file), 'utf8')
        .split('\n')
        .filter((line) => /^#{1,6} /.test(line))
        .map((line) => line.replace(/^#+ /, '').trim());
    const files = (folder: string): string[] =>
      readdirSync(join(repo, folder), { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? files(join(folder, e.name))
          : e.name.endsWith('.ts') || e.name.endsWith('.js')
            ? [join(folder, e.name)]
            : [],
      );
    const cited: string[] = [];
    for (const file of [...files('src'), ...files('bin'), ...files('scripts')]) {
      const text = readFileSync(join(repo, file), 'utf8');
      for (const m of text.matchAll(/"([^"\n]+)" in the README/g)) {
        cited.push(m[1]!);
        expect(headings('README.md'), `${file}: "${m[1]}"`).to.include(m[1]);
      }
      for (const m of text.matchAll(/(docs\/[\w-]+\.md), "([^"\n]+)"/g)) {
        cited.push(m[2]!);
        expect(headings(m[1]!), `${file}: ${m[1]}, "${m[2]}"`).to.include(m[2]);
      }
      expect(text, file).to.not.match(/README quick start/i);
    }
    // The demo's last words and the refusals on the defaults cite sections.
    expect(cited).to.include.members(['Two people chatting', 'Sharing a room']);
  });
});
