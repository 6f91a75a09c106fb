// A running `listen` fed 10,000 hostile payloads among genuine messages: it stays up, prints every
// genuine message and nothing else, keeps the terminal safe, and its memory stays bounded.
import { readdirSync, readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import mqtt from 'mqtt';
import { messageKey } from '../../src/protocol/index.js';
import { startAedes, type TestBroker } from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { hostilePayloads } from '../helpers/hostile.js';
import { startProgram } from '../helpers/programs.js';

describe('listen under a flood of hostile payloads', function () {
  this.timeout(120_000);
  let dir: string;
  let broker: TestBroker;

  before(async function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-hostile-'));
    broker = await startAedes();
  });
  after(async function () {
    await broker?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('prints the 100 genuine messages and nothing from the 10,000 others, safely', async function () {
    const env = {
      HOME: dir,
      SUNOYE_BROKER: broker.url,
      SUNOYE_HOME: join(dir, 'home'),
      NO_COLOR: '1',
      SUNOYE_NAME: 'bob',
    };
    const created = await runProgram('room', ['create', '--json'], { env });
    const { room } = JSON.parse(created.stdout) as { room: string };
    const roomsDir = join(dir, 'home', 'rooms');
    const file = readdirSync(roomsDir).find((f) => f.startsWith(room))!;
    const secret = Buffer.from(
      (JSON.parse(readFileSync(join(roomsDir, file), 'utf8')) as { secret: string }).secret,
      'base64',
    );

    const ALICE = /^\d\d:\d\d:\d\d alice( \[key [0-9a-f-]{19}, first seen\])?: (?=genuine )/;
    const startedAt = Date.now();
    const listener = startProgram('listen', [room], env);
    try {
      await listener.line('the join notice', (l) => l.includes('User bob is now subscribed'));
      const attacker = await mqtt.connectAsync(broker.url, {
        protocolVersion: 4,
        reconnectPeriod: 0,
      });
      const hostile = fc.sample(
        hostilePayloads(messageKey(secret, room), room, { includeRoomKey: false }),
        { numRuns: 10_000, seed: 42 },
      );
      const topic = `sunoye/room/${room}`;
      const flood = (async () => {
        for (let i = 0; i < hostile.length; i += 500) {
          await Promise.all(
            hostile.slice(i, i + 500).map((p) => attacker.publishAsync(topic, p, { qos: 1 })),
          );
        }
      })();
      const genuine = Array.from({ length: 100 }, (_, i) => `genuine ${i + 1}`);
      const sent = await runProgram('publish', [room], {
        env: { ...env, SUNOYE_NAME: 'alice' },
        input: `${genuine.join('\n')}\n`,
      });
      expect(sent.code, sent.stderr).to.equal(0);
      await flood;
      await attacker.endAsync();
      // The broker acknowledged the whole flood before this marker was sent: once the listener
      // prints the marker, it has read every payload of the flood.
      const marker = await runProgram('publish', [room, '-m', 'genuine end'], {
        env: { ...env, SUNOYE_NAME: 'alice' },
      });
      expect(marker.code, marker.stderr).to.equal(0);
      await listener.line(
        'the end marker',
        (l) => ALICE.test(l) && l.endsWith(': genuine end'),
        60_000,
      );
      const peakKb = Number(
        /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${listener.child.pid}/status`, 'utf8'))?.[1],
      );

      const stoppedAfterMs = Date.now() - startedAt;
      listener.child.kill('SIGTERM');
      expect(await listener.exited).to.equal(0);
      const messages = listener.stdoutLines.filter(
        (l) => / [^ ]+: /.test(l) && !l.includes(' -- '),
      );
      // alice's first line shows her key, first seen.
      expect(messages.map((l) => l.replace(ALICE, ''))).to.deep.equal([...genuine, 'genuine end']);
      const everything = listener.stdoutLines.join('\n') + listener.stderr();
      expect(everything).to.not.include('\u001b');
      expect(
        [...everything].filter((c) => (c < ' ' && c !== '\n') || (c >= '\u007f' && c <= '\u009f')),
      ).to.deep.equal([]);
      const warnings = listener.stderr().split('\n').filter(Boolean);
      // Each ignored payload is one warning, printed or summed up into the next line printed
      // ("and N similar warnings before it"): together they count the whole flood, exactly.
      const counted = warnings.map(
        (w) => 1 + Number(/ \(and (\d+) similar warnings? before it\)$/.exec(w)?.[1] ?? 0),
      );
      // At most one line every 2 s of the listener's life (the first at once), and the one
      // flushed on the way out.
      expect(warnings.length).to.be.at.most(Math.floor(stoppedAfterMs / 2000) + 2);
      expect(counted.reduce((a, b) => a + b, 0)).to.equal(hostile.length);
      // About 5% of the flood are 512 KiB junk payloads (~300 MB in a few seconds); the peak stays
      // bounded by garbage collection, not by the number of payloads (30,000 peaked lower than 10,000).
      expect(peakKb).to.be.below(512 * 1024);
    } finally {
      if (listener.child.exitCode === null) listener.child.kill('SIGKILL');
      await listener.exited;
    }
  });
});
