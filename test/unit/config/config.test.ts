// Configuration: one resolution order (flag > environment > config file > default) for every setting.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { visible } from '../../../src/terminal/render.js';
import { brokerSettings } from '../../../src/config/broker.js';
import { DEFAULT_BROKER, brokerUrl, checkName, resolveConfig } from '../../../src/config/config.js';
import { UsageError } from '../../../src/errors.js';
import { schemaProblem } from '../../../src/protocol/validate.js';

describe('configuration', function () {
  let dir: string;
  let home: string;
  beforeEach(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-config-'));
    home = join(dir, 'home');
    mkdirSync(home);
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  const writeFile = (value: unknown): void =>
    writeFileSync(join(home, 'config.json'), JSON.stringify(value));

  it('defaults to XDG places, the embedded database and a local broker', function () {
    const config = resolveConfig({}, { HOME: dir, USER: 'x' });
    expect(config.home).to.equal(join(dir, '.config', 'sunoye'));
    expect(config.db).to.equal(`sqlite:${join(dir, '.local', 'share', 'sunoye', 'sunoye.db')}`);
    expect(config.broker).to.equal(DEFAULT_BROKER);
    expect(config.name).to.be.a('string').and.not.equal('');
    const xdg = resolveConfig(
      {},
      { HOME: dir, XDG_CONFIG_HOME: join(dir, 'c'), XDG_DATA_HOME: join(dir, 'd') },
    );
    expect(xdg.home).to.equal(join(dir, 'c', 'sunoye'));
    expect(xdg.db).to.equal(`sqlite:${join(dir, 'd', 'sunoye', 'sunoye.db')}`);
  });

  it('takes a flag over the environment over the config file over the default', function () {
    writeFile({ db: 'sqlite:/file.db', broker: 'mqtt://file:1883', name: 'file' });
    const env = { HOME: dir, SUNOYE_HOME: home, SUNOYE_DB: 'sqlite:/env.db', SUNOYE_NAME: 'env' };
    const config = resolveConfig({ name: 'flag' }, env);
    expect(config).to.include({
      home,
      db: 'sqlite:/env.db',
      broker: 'mqtt://file:1883',
      name: 'flag',
    });
    expect(resolveConfig({ home: join(dir, 'elsewhere') }, env).home).to.equal(
      join(dir, 'elsewhere'),
    );
    expect(Object.isFrozen(config)).to.equal(true);
  });

  it('takes a broker named without a scheme, host or host:port, as mqtt:// (flag, environment, file)', function () {
    for (const [given, url] of [
      ['localhost', 'mqtt://localhost'],
      ['localhost:1884', 'mqtt://localhost:1884'],
      ['broker.example.org:8883', 'mqtt://broker.example.org:8883'],
      ['10.0.0.7:1883', 'mqtt://10.0.0.7:1883'],
      ['[::1]:1883', 'mqtt://[::1]:1883'],
      ['mqtts://broker:8883', 'mqtts://broker:8883'],
      ['ws://broker/mqtt', 'ws://broker/mqtt'],
    ] as const)
      expect(brokerUrl(given), given).to.equal(url);
    writeFile({ broker: 'file.lan:1883' });
    const env = { HOME: dir, SUNOYE_HOME: home };
    expect(resolveConfig({}, env).broker).to.equal('mqtt://file.lan:1883');
    expect(resolveConfig({}, { ...env, SUNOYE_BROKER: 'env.lan' }).broker).to.equal(
      'mqtt://env.lan',
    );
    expect(resolveConfig({ broker: '127.0.0.1:1885' }, env).broker).to.equal(
      'mqtt://127.0.0.1:1885',
    );
    // Junk is left as it is, for brokerSettings to refuse with a clear line (that echoes none of it).
    for (const [junk, message] of [
      ['localhost:port', /the broker is neither host\[:port\] nor a URL/],
      ['bob:secret@localhost:1883', /the broker is neither host\[:port\] nor a URL/],
      ['a broker', /the broker URL is not a URL/],
      [':1883', /the broker URL is not a URL/],
      ['localhost:99999', /the broker URL is not a URL/],
      ['-host', /the broker URL is not a URL/],
      ['http://broker', /unsupported broker URL scheme http:\/\//],
    ] as const) {
      const config = resolveConfig({ broker: junk }, env);
      expect(() => brokerSettings(config), junk)
        .to.throw(UsageError, message)
        .with.property('message')
        .that.does.not.include('secret');
    }
  });

  it('takes a comma-separated broker list (flag, environment, file), each entry as one broker', function () {
    expect(brokerUrl('n1:1883, mqtt://n2:1883,n3')).to.equal(
      'mqtt://n1:1883,mqtt://n2:1883,mqtt://n3',
    );
    const env = { HOME: dir, SUNOYE_HOME: home };
    writeFile({ broker: 'f1,f2:1884' });
    expect(resolveConfig({}, env).broker).to.equal('mqtt://f1,mqtt://f2:1884');
    expect(resolveConfig({}, { ...env, SUNOYE_BROKER: 'e1,e2' }).broker).to.equal(
      'mqtt://e1,mqtt://e2',
    );
    // Credentials come from the URL that has them, and leave every URL of the list.
    const settings = brokerSettings(
      resolveConfig({ broker: 'mqtt://n1:1883,mqtt://bob:s3cret@n2:1883,n3:1883' }, env),
    );
    expect(settings.url).to.equal('mqtt://n1:1883,mqtt://n2:1883,mqtt://n3:1883');
    expect(settings.username).to.equal('bob');
    expect(settings.password).to.equal('s3cret');
    // A bad entry is refused as a lone URL would be, quoting none of it.
    expect(() => brokerSettings(resolveConfig({ broker: 'n1,http://bob:secret@n2' }, env)))
      .to.throw(UsageError, /unsupported broker URL scheme http:\/\//)
      .with.property('message')
      .that.does.not.include('secret');
  });

  it('resolves the MQTT version and the connect timeout: flag > environment > file > default', function () {
    const base = { HOME: dir, SUNOYE_HOME: home };
    const defaults = resolveConfig({}, base);
    expect(defaults.mqttVersion).to.equal(undefined);
    expect(defaults.connectTimeout).to.equal(10);
    expect(brokerSettings(defaults)).to.include({
      mqttVersion: undefined,
      connectTimeoutMs: 10_000,
    });
    writeFile({ mqttVersion: '3.1.1', connectTimeout: 4 });
    const file = resolveConfig({}, base);
    expect(file).to.include({ mqttVersion: '3.1.1', connectTimeout: 4 });
    expect(brokerSettings(file)).to.include({ mqttVersion: 4, connectTimeoutMs: 4000 });
    const env = { ...base, SUNOYE_MQTT_VERSION: '5', SUNOYE_CONNECT_TIMEOUT: '2.5' };
    expect(resolveConfig({}, env)).to.include({ mqttVersion: '5', connectTimeout: 2.5 });
    expect(brokerSettings(resolveConfig({}, env)).mqttVersion).to.equal(5);
    expect(resolveConfig({ mqttVersion: 'auto', connectTimeout: 1 }, env)).to.include({
      mqttVersion: undefined,
      connectTimeout: 1,
    });
    for (const [flags, message] of [
      [{ mqttVersion: '4' }, /the MQTT version must be 5, 3\.1\.1 or auto/],
      [{ mqttVersion: '3' }, /the MQTT version must be 5, 3\.1\.1 or auto/],
      [{ connectTimeout: 0 }, /the connect timeout must be a number of seconds above 0/],
      [{ connectTimeout: -1 }, /the connect timeout must be/],
      [{ connectTimeout: Number.NaN }, /the connect timeout must be/],
      [{ connectTimeout: 4000 }, /at most 3600/],
    ] as const)
      expect(() => resolveConfig(flags, base), JSON.stringify(flags)).to.throw(UsageError, message);
  });

  it('treats an empty environment variable as unset', function () {
    writeFile({ name: 'file' });
    expect(resolveConfig({}, { HOME: dir, SUNOYE_HOME: home, SUNOYE_NAME: '' }).name).to.equal(
      'file',
    );
  });

  it('takes the presence lease apart from the keepalive: 90 s by default, flag > environment > file', function () {
    expect(resolveConfig({}, { HOME: dir, SUNOYE_KEEPALIVE: '1' })).to.include({
      keepalive: 1,
      lease: 90,
    });
    writeFile({ lease: '120' });
    const env = { HOME: dir, SUNOYE_HOME: home };
    expect(resolveConfig({}, env).lease).to.equal(120);
    expect(resolveConfig({}, { ...env, SUNOYE_LEASE: '60' }).lease).to.equal(60);
    expect(resolveConfig({ lease: 9 }, { ...env, SUNOYE_LEASE: '60' }).lease).to.equal(9);
    for (const bad of ['0', '2.5', '3601', 'soon'])
      expect(() => resolveConfig({}, { ...env, SUNOYE_LEASE: bad })).to.throw(
        UsageError,
        /the lease must be a whole number of seconds from 1 to 3600/,
      );
  });

  it('refuses a broken config file with a message naming it, and where it is broken', function () {
    writeFileSync(join(home, 'config.json'), '{ name: ');
    expect(() => resolveConfig({}, { HOME: dir, SUNOYE_HOME: home })).to.throw(
      UsageError,
      /config\.json is not valid JSON: expected property name or '}' at line 1, column 3; fix it there/,
    );
    // A character JSON.parse names without its place (Node 20): found, and the text not quoted.
    writeFileSync(
      join(home, 'config.json'),
      '{\n  "db": "mysql://u:hunter2@db/sunoye",\n  "name": @alice\n}\n',
    );
    let message = '';
    try {
      resolveConfig({}, { HOME: dir, SUNOYE_HOME: home });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.equal(
      `the config file ${join(home, 'config.json')} is not valid JSON: unexpected token '@' at line 3, column 11; fix it there, or move the file away to use the defaults`,
    );
    expect(message).to.not.include('hunter2');
    // A folder where the file should be: said in words, not as EISDIR.
    rmSync(join(home, 'config.json'));
    mkdirSync(join(home, 'config.json'));
    expect(() => resolveConfig({}, { HOME: dir, SUNOYE_HOME: home })).to.throw(
      UsageError,
      /cannot read the config file .*config\.json: it is a folder, not a file$/,
    );
    rmSync(join(home, 'config.json'), { recursive: true });
    writeFile({ nmae: 'typo' });
    expect(() => resolveConfig({}, { HOME: dir, SUNOYE_HOME: home })).to.throw(
      UsageError,
      /unknown setting "nmae"/,
    );
    writeFile({ name: 5 });
    expect(() => resolveConfig({}, { HOME: dir, SUNOYE_HOME: home })).to.throw(
      UsageError,
      /"name" must be a string/,
    );
    writeFile(['a']);
    expect(() => resolveConfig({}, { HOME: dir, SUNOYE_HOME: home })).to.throw(
      UsageError,
      /must hold a JSON object/,
    );
  });

  it('refuses names that are empty, too long or hold control characters', function () {
    const env = { HOME: dir, SUNOYE_HOME: home };
    expect(() => resolveConfig({ name: 'a'.repeat(65) }, env)).to.throw(
      UsageError,
      /1-64 characters/,
    );
    expect(() => resolveConfig({ name: 'evil\u001b[2J' }, env)).to.throw(UsageError);
    expect(resolveConfig({ name: 'ünï 😀' }, env).name).to.equal('ünï 😀');
  });

  it('refuses exactly the names the payload schema refuses; the renderer escapes the same characters', function () {
    const schemaRefuses = (n: string): boolean =>
      schemaProblem({ type: 'message', from: n, message: '' }) !== undefined;
    const configRefuses = (n: string): boolean => {
      try {
        checkName(n);
        return false;
      } catch (err) {
        if (err instanceof UsageError) return true;
        throw err;
      }
    };
    const name = fc.string({
      unit: fc.oneof(
        fc.constantFrom('a', '😀', '\t', '\n', '\u001b', '\u0085', '\u202e', '\u2069', '\u206a'),
        fc.integer({ min: 0, max: 0x2100 }).map((c) => String.fromCodePoint(c)),
      ),
      maxLength: 70,
    });
    fc.assert(
      fc.property(name, (n) => {
        expect(configRefuses(n), JSON.stringify(n)).to.equal(schemaRefuses(n));
        // Tab and newline lay out a message; every other character a name may not hold is escaped.
        for (const c of n) {
          const escaped = schemaRefuses(c) && c !== '\t' && c !== '\n';
          expect(visible(c) !== c, JSON.stringify(c)).to.equal(escaped);
        }
      }),
      { numRuns: 5_000 },
    );
  });
});
