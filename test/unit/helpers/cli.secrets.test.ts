// The secret check's helpers: which inputs they take for secrets, and what of `room create`'s
// output they leave out of the transcript.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { noteSecrets, record, secretsGiven, transcript } from '../../helpers/cli.js';

describe('the secret check helpers', function () {
  let dir: string;
  before(function () {
    dir = mkdtempSync(join(tmpdir(), 'sunoye-secret-helpers-'));
  });
  after(function () {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('note the password of every URL of a list, %-decoded too, and of a MySQL cluster URL', function () {
    noteSecrets({
      SUNOYE_BROKER: 'mqtt://h1:1883, mqtt://bob:Li5t-pw%40two@h2:1883',
      SUNOYE_DB: 'mysql://u:Clu5ter-pw@h1:3306,h2:3306/db?timeout=10',
    });
    noteSecrets({}, [
      '--broker=ws://h:1/mqtt?token=T0ken-in-query#Fr4gment-secret',
      '--db',
      'postgres://u:Sl4sh/in-pw@h/x',
    ]);
    for (const secret of [
      'Li5t-pw%40two',
      'Li5t-pw@two',
      'Clu5ter-pw',
      'T0ken-in-query',
      'Fr4gment-secret',
      'Sl4sh/in-pw',
    ])
      expect(secretsGiven.has(secret), secret).to.equal(true);
  });

  it("note the keys a program keeps in its home: the signing key and every remembered room's secret", function () {
    const home = join(dir, 'keys-home');
    mkdirSync(join(home, 'rooms'), { recursive: true });
    const d = Buffer.alloc(32, 0xa5);
    const secret = Buffer.alloc(32, 0x3c);
    writeFileSync(
      join(home, 'identity.json'),
      JSON.stringify({ format: 1, x: 'pub', d: d.toString('base64url') }),
    );
    writeFileSync(
      join(home, 'rooms', '123456-abc.json'),
      JSON.stringify({ room: '123456', secret: secret.toString('base64') }),
    );
    noteSecrets({ SUNOYE_HOME: home }, ['listen', '123456']);
    // Noted as a run's output is recorded, while the home is there (the program may have just
    // made them).
    record('listen', ['123456'], 'nothing secret');
    for (const key of [d, secret])
      for (const form of ['base64', 'base64url', 'hex'] as const)
        expect(secretsGiven.has(key.toString(form)), form).to.equal(true);
  });

  it('note --password, a password file, stdin for --password-file - and config.json', function () {
    writeFileSync(join(dir, 'pw'), 'Fi1e-first-line\nnot this\n');
    const home = join(dir, 'home');
    mkdirSync(home);
    writeFileSync(join(home, 'config.json'), JSON.stringify({ db: 'mysql://u:C0nfig-pw@h/db' }));
    noteSecrets({ SUNOYE_HOME: home }, ['--password', 'F1ag-password']);
    noteSecrets({}, ['--password=Equ4ls-password', '--password-file', 'pw'], undefined, dir);
    noteSecrets({}, ['--password-file=-'], 'St4in-password\nmessage\n');
    noteSecrets({}, ['-m', 'hi', '--', '--password', 'Aft3r-dashes']);
    for (const secret of [
      'F1ag-password',
      'Equ4ls-password',
      'Fi1e-first-line',
      'St4in-password',
      'C0nfig-pw',
    ])
      expect(secretsGiven.has(secret), secret).to.equal(true);
    expect(secretsGiven.has('not this')).to.equal(false);
    expect(secretsGiven.has('message')).to.equal(false);
    expect(secretsGiven.has('Aft3r-dashes')).to.equal(false);
  });

  it("record room create's output but for the one generated password it prints by design", function () {
    const start = transcript.length;
    try {
      record(
        'room',
        ['create'],
        'Room number: 482913\nPassword:    k7mp-x3qa-9tze-wh2c\n',
        'The people you invite join with:\n  room join 482913\n',
      );
      record('room', ['create', '--json'], '{"room":"482914","password":"ab2c-x3qa-9tze-wh2c"}\n');
      // Printed anywhere else, the generated password is recorded: a leak.
      record('room', ['create'], 'Password:    mn3p-x3qa-9tze-wh2c\n', 'mn3p-x3qa-9tze-wh2c\n');
      const texts = transcript.slice(start).map((o) => o.text);
      expect(texts).to.deep.equal([
        'Room number: 482913\n',
        'The people you invite join with:\n  room join 482913\n',
        '{"room":"482914"}\n',
        'mn3p-x3qa-9tze-wh2c\n',
      ]);
      for (const secret of ['k7mp-x3qa-9tze-wh2c', 'ab2c-x3qa-9tze-wh2c', 'mn3p-x3qa-9tze-wh2c'])
        expect(secretsGiven.has(secret), secret).to.equal(true);
    } finally {
      // The leak above is this test's own: it must not fail the suite's check.
      transcript.splice(start);
    }
  });
});
