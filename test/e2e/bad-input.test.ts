// Bad flags and input for listen and publish: clear messages, documented exit codes, and a
// never-ending line refused without reading it whole.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { startProgram } from '../helpers/programs.js';

describe('listen and publish given bad flags and input', function () {
  this.timeout(60_000);
  let dir: string;
  let broker: TestBroker;
  let env: Record<string, string>;
  let room: string;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-bad-'));
    broker = await startAedes();
    env = { HOME: dir, SUNOYE_BROKER: broker.url };
    room = (
      JSON.parse((await runProgram('room', ['create', '--json'], { env })).stdout) as {
        room: string;
      }
    ).room;
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('refuses bad flags with one line and exit 2, unknown rooms with exit 3', async function () {
    const cases: ['listen' | 'publish', string[], number, RegExp][] = [
      [
        'listen',
        [room, '--count', '-1'],
        2,
        /--count must be a whole number of messages, 1 or more/,
      ],
      ['listen', [room, '--count', '2.5'], 2, /--count must be a whole number/],
      ['listen', [], 2, /name a room number \(or --topic T --plain for a raw topic\)/],
      ['listen', ['--topic', 'a/b'], 2, /--topic needs --plain/],
      ['listen', ['--topic', 'a/#', '--plain'], 2, /must be non-empty and hold no wildcards/],
      ['listen', [room, '--keepalive', '0'], 2, /keepalive must be a whole number of seconds/],
      [
        'publish',
        [room, '--timeout', '-5', '-m', 'x'],
        2,
        /--timeout must be a number of seconds above 0/,
      ],
      [
        'publish',
        [room, '--window', '0', '-m', 'x'],
        2,
        /--window must be a whole number from 1 to 65000/,
      ],
      ['publish', [room, '-m', ''], 2, /-m needs a non-empty message/],
      ['publish', [room, '--broker', 'http://x'], 2, /unsupported broker URL scheme http:/],
      ['publish', ['999999', '-m', 'x'], 3, /there is no room 999999/],
      ['listen', ['999999'], 3, /there is no room 999999/],
    ];
    for (const [program, args, code, message] of cases) {
      const run = await runProgram(program, args, { env });
      expect(run.code, `${program} ${args.join(' ')}: ${run.stderr}`).to.equal(code);
      expect(run.stderr.split('\n').filter(Boolean), `${program} ${args.join(' ')}`).to.have.length(
        1,
      );
      expect(run.stderr).to.match(message);
    }
  });

  it('refuses an endless single line after 64 KiB, without reading it all', async function () {
    const publisher = startProgram('publish', [room], env);
    const chunk = Buffer.alloc(1 << 20, 0x61); // 1 MiB of 'a', never a newline
    let written = 0;
    publisher.child.stdin.on('error', () => undefined); // the program stops reading: EPIPE is expected
    while (publisher.child.exitCode === null && written < 2 * 1024 ** 3) {
      const ok = publisher.child.stdin.write(chunk);
      written += chunk.length;
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 5));
      if (written > 256 * 1024 ** 2) break; // far beyond what it should ever read
    }
    expect(await publisher.exited).to.equal(2);
    expect(publisher.stderr()).to.match(
      /line 1 is longer than 65536 bytes; nothing from it on was sent\n$/,
    );
    expect(written).to.be.below(256 * 1024 ** 2);
  });
});
