// A burst on a stock mosquitto (its default 20 messages in flight to a client and 1,000 queued,
// the rest dropped): a listener that could not read for a moment, as on a busy machine, still
// gets every message of a burst several times the queue, because it opens the window of
// unacknowledged messages (MQTT 5 Receive Maximum) and the broker streams them instead of
// queueing them.
import { expect } from 'chai';
import mqtt from 'mqtt';
import { mosquittoFixture, type MosquittoFixture } from '../helpers/brokers.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

/** mosquitto's own defaults for what it holds for a client: none of the repository's limits. */
const stock = (conf: string): string =>
  conf.replace(/^(max_queued_messages|max_queued_bytes|max_inflight_messages) .*$/gm, '');

describe('a burst on a stock mosquitto', function () {
  this.timeout(60_000);
  let fixture: MosquittoFixture;
  const running: RunningProgram[] = [];

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-burst-', { edit: stock });
  });
  afterEach(async function () {
    await stopAll(running);
  });
  after(async function () {
    await fixture?.stop();
  });

  it('listen --topic T --plain gets all 3,000 messages sent while it was stopped', async function () {
    const topic = 'sunoye/room/burst';
    const listener = startProgram('listen', ['--topic', topic, '--plain', '--json'], {
      ...fixture.env,
      SUNOYE_NAME: 'lena',
    });
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    const { admin } = fixture.broker;
    const peer = await mqtt.connectAsync(fixture.broker.url, {
      username: admin.name,
      password: admin.password,
      protocolVersion: 4,
    });
    const total = 3000;
    // Stopped: it reads and acknowledges nothing while the burst arrives.
    listener.child.kill('SIGSTOP');
    try {
      await Promise.all(
        Array.from({ length: total }, (_, i) =>
          peer.publishAsync(
            topic,
            JSON.stringify({ type: 'message', from: 'bob', message: `line ${i}` }),
            { qos: 1 },
          ),
        ),
      );
    } finally {
      listener.child.kill('SIGCONT');
      await peer.endAsync();
    }
    const messages = (): Record<string, unknown>[] =>
      jsonLines(listener.stdoutLines).filter((l) => l.type === 'message');
    await waitFor(`${total} messages`, () => messages().length >= total, 30_000);
    const texts = messages().map((m) => m.message);
    expect(texts).to.deep.equal(Array.from({ length: total }, (_, i) => `line ${i}`));
  });
});
