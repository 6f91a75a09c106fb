// MQTT-Chat's own clients in a plain room, on mosquitto (MQTT 5, which sends no retained message
// unless asked): their join and leave notices are presence (`carl joined`, `carl left`, and
// "event" in --json), and a retained message left on the topic is dropped with one warning, in
// `listen`'s stderr and in the room window.
import { join } from 'node:path';
import { expect } from 'chai';
import mqtt from 'mqtt';
import { mosquittoFixture, type MosquittoFixture } from '../helpers/brokers.js';
import {
  createRoomWithPassword,
  jsonLines,
  startProgram,
  stopAll,
  type RunningProgram,
} from '../helpers/programs.js';
import { tmuxInstalled, type Terminal } from '../helpers/terminal.js';
import { openChatWindow } from '../helpers/window.js';
import { waitFor } from '../helpers/wait.js';

describe('MQTT-Chat peers and retained messages in a plain room', function () {
  this.timeout(90_000);
  let fixture: MosquittoFixture;
  const running: RunningProgram[] = [];
  const terminals: Terminal[] = [];
  const user = (name: string, extra: Record<string, string> = {}): Record<string, string> => ({
    ...fixture.env,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(fixture.env.HOME!, `home-${name}`),
    ...extra,
  });

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-mqttchat-');
  });
  afterEach(async function () {
    for (const t of terminals.splice(0)) await t.close();
    await stopAll(running);
  });
  after(async function () {
    await fixture?.stop();
  });

  /** A new plain room: its number and password. */
  const plainRoom = () => createRoomWithPassword(user('alice'), ['--plain']);

  /** MQTT-Chat's client as it is: MQTT 3.1.1, its JSON without sunoye's fields. */
  async function mqttChatPeer(topic: string) {
    const { user: login } = fixture.broker;
    const client = await mqtt.connectAsync(fixture.broker.url, {
      username: login.name,
      password: login.password,
      protocolVersion: 4,
    });
    const send = (payload: Record<string, string>, retain = false) =>
      client.publishAsync(topic, JSON.stringify(payload), { qos: 1, retain });
    return {
      /** Leaves a retained message on the topic (as a careless client can). */
      leaveRetained: () =>
        send({ type: 'message', from: 'carl', message: 'left on the broker long ago' }, true),
      joins: () =>
        send({ type: 'notice', from: 'carl', notice: `User carl is now subscribed to ${topic} .` }),
      says: (text: string) => send({ type: 'message', from: 'carl', message: text }),
      leaves: () =>
        send({ type: 'notice', from: 'carl', notice: `User carl disconnecting from ${topic} .` }),
      /** Clears the retained message and disconnects. */
      end: async () => {
        await client.publishAsync(topic, '', { qos: 1, retain: true });
        await client.endAsync();
      },
    };
  }

  it('listen: their join and leave are presence events, and a retained message one warning', async function () {
    const { room, password } = await plainRoom();
    const topic = `sunoye/room/${room}`;
    const carl = await mqttChatPeer(topic);
    try {
      await carl.leaveRetained();
      const bob = startProgram(
        'listen',
        [room, '--json'],
        user('bob', { SUNOYE_PASSWORD: password }),
      );
      running.push(bob);
      await bob.line('the join notice', (l) => l.includes('"from":"bob"') && l.includes('"join"'));
      await carl.joins();
      await carl.says('hello from MQTT-Chat');
      await carl.leaves();
      await bob.line(
        'the leave',
        (l) => l.includes('"from":"carl"') && l.includes('disconnecting'),
      );
      const carls = jsonLines(bob.stdoutLines).filter((m) => m.from === 'carl');
      expect(carls.map((m) => [m.type, m.event ?? m.message])).to.deep.equal([
        ['notice', 'join'],
        ['message', 'hello from MQTT-Chat'],
        ['notice', 'leave'],
      ]);
      // Dropped, never shown, and said once on stderr.
      expect(bob.stdoutLines.join('\n')).to.not.include('long ago');
      // Warnings are at most one every 2 s: the one for the retained message may wait its turn.
      await waitFor('the retained warning', () => bob.stderr().includes('ignored a retained'), {
        program: bob,
      });
      expect(bob.stderr().match(/ignored a retained message/g)).to.have.length(1);
    } finally {
      await carl.end();
    }
  });

  it('the room window: "carl joined", "carl left", and the retained message as a warning', async function () {
    if (!(await tmuxInstalled())) this.skip();
    const { room, password } = await plainRoom();
    const topic = `sunoye/room/${room}`;
    const carl = await mqttChatPeer(topic);
    try {
      await carl.leaveRetained();
      const bob = await openChatWindow(room, user('bob', { SUNOYE_PASSWORD: password }), terminals);
      await carl.joins();
      await carl.says('hello from MQTT-Chat');
      await carl.leaves();
      await bob.waitFor('the retained warning', (r) =>
        r.some((row) => row.includes('ignored a retained message')),
      );
      const rows = await bob.waitFor('carl leaving', (r) =>
        r.some((row) => row.endsWith('-- carl left')),
      );
      const text = rows.join('\n');
      expect(rows.some((row) => row.endsWith('-- carl joined'))).to.equal(true);
      expect(text).to.include('carl: hello from MQTT-Chat');
      expect(text).to.not.include('User carl');
      expect(text).to.not.include('long ago');
      expect(text.match(/ignored a retained message/g)).to.have.length(1);
    } finally {
      await carl.end();
    }
  });
});
