// The repository's hardened mosquitto.conf and ACL, with a password file and certificates made
// for the test: who may connect, where they may publish and subscribe, and TLS.
import { expect } from 'chai';
import mqtt from 'mqtt';
import {
  mosquittoFixture,
  type MosquittoBroker,
  type MosquittoFixture,
} from '../helpers/brokers.js';
import { runProgram } from '../helpers/cli.js';
import { jsonLines, startProgram, stopAll, type RunningProgram } from '../helpers/programs.js';
import { waitFor } from '../helpers/wait.js';

describe('a broker run with the repository mosquitto.conf', function () {
  this.timeout(60_000);
  let fixture: MosquittoFixture | undefined;
  let broker: MosquittoBroker;
  let env: Record<string, string>;
  const running: RunningProgram[] = [];

  before(async function () {
    fixture = await mosquittoFixture(this, 'sunoye-secure-', { tls: true });
    ({ broker, env } = fixture);
  });
  afterEach(async function () {
    await stopAll(running);
  });
  after(async function () {
    await fixture?.stop();
  });

  const newRoom = async (): Promise<string> => {
    const created = await runProgram('room', ['create', '--json'], { env });
    expect(created.code, created.stderr).to.equal(0);
    return (JSON.parse(created.stdout) as { room: string }).room;
  };

  it('refuses anonymous clients and wrong passwords, with one clear line and exit 4', async function () {
    let refused: unknown;
    await mqtt
      .connectAsync(broker.url, { reconnectPeriod: 0, protocolVersion: 4 })
      .catch((err: unknown) => (refused = err));
    expect(refused).to.be.instanceOf(Error);
    const room = await newRoom();
    const anonymous = { ...env };
    delete anonymous.SUNOYE_BROKER_USER;
    delete anonymous.SUNOYE_BROKER_PASSWORD;
    const anon = await runProgram('publish', [room, '-m', 'hi'], { env: anonymous });
    expect(anon.code).to.equal(4);
    expect(anon.stderr).to.equal(
      `publish: cannot connect to the broker ${broker.url}: not authorized\n`,
    );
    // Refused credentials end it at once: no retrying for the connect timeout (10 s by default).
    const started = Date.now();
    const wrong = await runProgram('listen', [room], {
      env: { ...env, SUNOYE_BROKER_PASSWORD: 'not-it-at-all' },
    });
    expect(Date.now() - started).to.be.below(5000);
    expect(wrong.code).to.equal(4);
    expect(wrong.stderr).to.match(
      /^listen: cannot connect to the broker mqtt:\/\/127\.0\.0\.1:\d+: (bad user name or password|not authorized)\n$/,
    );
    expect(wrong.stderr).to.not.include('not-it-at-all');
    // Credentials in the URL: the refusal names the broker without them.
    const inUrl = await runProgram('publish', [room, '-m', 'hi'], {
      env: {
        ...anonymous,
        SUNOYE_BROKER: broker.url.replace('://', `://${broker.user.name}:not-it-either@`),
      },
    });
    expect(inUrl.code).to.equal(4);
    expect(inUrl.stderr).to.match(
      /^publish: cannot connect to the broker mqtt:\/\/127\.0\.0\.1:\d+: (bad user name or password|not authorized)\n$/,
    );
    expect(inUrl.stderr).to.not.include(broker.user.name);
  });

  it('lets a sunoye user chat in rooms, and nowhere else', async function () {
    const room = await newRoom();
    const listener = startProgram('listen', [room, '--json', '--count', '1'], env);
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    expect((await runProgram('publish', [room, '-m', 'inside the walls'], { env })).code).to.equal(
      0,
    );
    expect(await listener.exited).to.equal(0);
    expect(jsonLines(listener.stdoutLines).find((m) => m.type === 'message')).to.include({
      message: 'inside the walls',
    });

    const sub = await runProgram('listen', ['--topic', 'elsewhere/x', '--plain'], { env });
    expect(sub.code).to.equal(3);
    expect(sub.stderr).to.equal(
      'listen: the broker does not allow this user on elsewhere/x; check its ACL\n',
    );
    const pub = await runProgram('publish', ['--topic', 'elsewhere/x', '--plain', '-m', 'x'], {
      env,
    });
    expect(pub.code).to.equal(3);
    expect(pub.stderr).to.equal(
      'publish: the broker does not allow this user on elsewhere/x; check its ACL\n',
    );

    // mosquitto grants a subscription to '#' or '$SYS/#' but delivers only what the ACL lets the
    // user read: neither the admin's message elsewhere nor the broker's own retained $SYS topics
    // arrive, the marker in a room (sent after them) does.
    const raw = await mqtt.connectAsync(broker.url, {
      reconnectPeriod: 0,
      username: broker.user.name,
      password: broker.user.password,
    });
    const received: string[] = [];
    raw.on('message', (topic) => received.push(topic));
    await raw.subscribeAsync(['#', '$SYS/#'], { qos: 1 });
    const admin = await mqtt.connectAsync(broker.url, {
      reconnectPeriod: 0,
      username: broker.admin.name,
      password: broker.admin.password,
    });
    await admin.publishAsync('elsewhere/secret', 'x', { qos: 1 });
    await admin.publishAsync(`sunoye/room/${room}`, 'marker', { qos: 1 });
    await waitFor('the marker', () => received.includes(`sunoye/room/${room}`));
    expect(received).to.deep.equal([`sunoye/room/${room}`]);
    await admin.endAsync();
    await raw.endAsync();
  });

  it('speaks TLS with the right CA, and refuses a wrong one clearly', async function () {
    const room = await newRoom();
    const listener = startProgram('listen', [room, '--json', '--count', '1'], env);
    running.push(listener);
    await listener.line('the join notice', (l) => l.includes('"event":"join"'));
    const tls = { ...env, SUNOYE_BROKER: broker.tls!.url };
    const good = await runProgram('publish', [room, '-m', 'over TLS', '--ca', broker.tls!.ca], {
      env: tls,
    });
    expect(good.code, good.stderr).to.equal(0);
    expect(await listener.exited).to.equal(0);
    expect(jsonLines(listener.stdoutLines).find((m) => m.type === 'message')).to.include({
      message: 'over TLS',
    });

    const bad = await runProgram('publish', [room, '-m', 'x', '--ca', broker.tls!.wrongCa], {
      env: tls,
    });
    expect(bad.code).to.equal(4);
    expect(bad.stderr).to.match(
      /^publish: cannot connect to the broker mqtts:\/\/127\.0\.0\.1:\d+: its TLS certificate is not trusted \([A-Z_]+\); give the CA that signed it with --ca\n$/,
    );
    const none = await runProgram('publish', [room, '-m', 'x'], { env: tls });
    expect(none.code).to.equal(4);
  });
});
