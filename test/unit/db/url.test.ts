// Database URLs: both backends parse, and no label or error ever shows a password.
import { expect } from 'chai';
import { parseDbUrl, shareableDbUrl } from '../../../src/db/url.js';
import { redactUrl } from '../../../src/redact.js';
import { UsageError } from '../../../src/errors.js';

describe('database URLs', function () {
  it('parses SQLite paths, absolute or relative', function () {
    expect(parseDbUrl('sqlite:/var/lib/x.db')).to.include({
      kind: 'sqlite',
      path: '/var/lib/x.db',
      label: 'sqlite:/var/lib/x.db',
    });
    expect(parseDbUrl('sqlite:///var/lib/x.db')).to.include({ path: '/var/lib/x.db' });
    expect(parseDbUrl('sqlite:rel.db')).to.include({ path: `${process.cwd()}/rel.db` });
    expect(() => parseDbUrl('sqlite:')).to.throw(UsageError);
  });

  it('parses MySQL URLs with defaults, and labels them without user name or password', function () {
    const full = parseDbUrl('mysql://chat:p%40ss@db.example:3307/rooms');
    expect(full).to.deep.include({
      kind: 'mysql',
      hosts: [{ host: 'db.example', port: 3307 }],
      user: 'chat',
      password: 'p@ss',
      database: 'rooms',
    });
    expect(full.label).to.equal('mysql://***@db.example:3307/rooms');
    expect(parseDbUrl('mysql://root@127.0.0.1')).to.deep.include({
      hosts: [{ host: '127.0.0.1', port: 3306 }],
      database: 'sunoye',
      password: undefined,
      label: 'mysql://***@127.0.0.1/sunoye',
    });
    expect(parseDbUrl('mysql://127.0.0.1:3307').label).to.equal('mysql://127.0.0.1:3307/sunoye');
    expect(() => parseDbUrl('mysql://root@host/bad-name')).to.throw(
      UsageError,
      /database name "bad-name"/,
    );
  });

  it('refuses malformed and other URLs without echoing their user name or password', function () {
    const refusal = (url: string): string => {
      try {
        parseDbUrl(url);
      } catch (err) {
        expect(err).to.be.instanceOf(UsageError);
        return (err as Error).message;
      }
      throw new Error(`${url} was accepted`);
    };
    expect(refusal('postgres://u:hunter2@h/db')).to.match(/unsupported database URL/);
    for (const url of [
      'postgres://alice:hunter2@h/db',
      'postgres://alice:hun/ter2@h/db',
      'mysql//alice:hunter2@h/db',
      'alice:hunter2@h:3306/db',
      'mysql:alice:hunter2@h/db',
      'mysql://alice:hunter2@h:notaport/db',
      'mysql://alice:hun%zzter2@h/db',
      'mysql://alice:hunter2@h/%zz',
      'mysql://h/alice:hunter2@db',
    ]) {
      const message = refusal(url);
      for (const part of ['alice', 'hunter2', 'hun', 'ter2'])
        expect(message, url).to.not.include(part);
    }
  });

  it('redacts the whole user information of a URL, however malformed', function () {
    const cases: [string, string][] = [
      ['mqtt://u:secret@host:1883', 'mqtt://***@host:1883'],
      ['mqtt://u@host:1883/x?y=1', 'mqtt://***@host:1883/x?***'],
      ['ws://host:80/mqtt?token=t0k#f', 'ws://host:80/mqtt?***'],
      ['wss://host/mqtt#t0k', 'wss://host/mqtt#***'],
      ['mqtt://u:pa?ss@host/x', 'mqtt://***@host/x'],
      ['mysql://u:p@ss@host/db', 'mysql://***@host/db'],
      ['mysql://u:p/ss@host/db', 'mysql://***@host/db'],
      ['mysql//u:p@host/db', '***@host/db'],
      ['u:p@host:3306/db', '***@host:3306/db'],
      ['mqtt://host:1883', 'mqtt://host:1883'],
    ];
    for (const [url, shown] of cases) expect(redactUrl(url), url).to.equal(shown);
  });

  it('parses a list of cluster nodes, each with its own port or 3306', function () {
    const target = parseDbUrl('mysql://chat:p,w@ss@db1:3307,DB2,[::1]:3308/rooms?timeout=2');
    expect(target).to.deep.include({
      kind: 'mysql',
      hosts: [
        { host: 'db1', port: 3307 },
        { host: 'DB2', port: 3306 },
        { host: '::1', port: 3308 },
      ],
      user: 'chat',
      password: 'p,w@ss',
      database: 'rooms',
      timeoutMs: 2000,
    });
    expect(target.label).to.equal('mysql://***@db1:3307,DB2,[::1]:3308/rooms');
    expect(
      shareableDbUrl('mysql://chat:p,w@ss@db1:3307,DB2,[::1]:3308/rooms?timeout=2&x=1'),
    ).to.equal('mysql://chat@db1:3307,DB2,[::1]:3308/rooms?timeout=2');
    expect(shareableDbUrl('mysql://h1,h2:3307')).to.equal('mysql://h1,h2:3307');
    for (const bad of [
      'mysql://alice:hunter2@h1,,h3/db',
      'mysql://alice:hunter2@h1,h2:port/db',
      'mysql://alice:hunter2@h1,/db',
      'mysql://alice:hunter2@h1,h2:3306:1/db',
    ]) {
      let message = '';
      try {
        parseDbUrl(bad);
      } catch (err) {
        expect(err, bad).to.be.instanceOf(UsageError);
        message = (err as Error).message;
      }
      expect(message, bad).to.match(/host list/);
      expect(message, bad).to.not.match(/alice|hunter2/);
    }
  });
  it('refuses a password with a raw / ? or # before the host list, rather than reading it as hosts', function () {
    // The URL parser ends the user information at the `?`: "alice:1" read as host:port, and
    // "hunter2" as the next node (printed in labels and join lines, and looked up in the DNS).
    for (const url of [
      'mysql://alice:1,hunter2?x@h1/db',
      'mysql://alice:1,hunter2#x@h1,h2/db',
      'mysql://alice:12/hunter2,x@h1/db',
      'mysql://alice:12#hunter2@h1/db',
    ]) {
      let message = '';
      try {
        parseDbUrl(url);
      } catch (err) {
        expect(err, url).to.be.instanceOf(UsageError);
        message = (err as Error).message;
      }
      expect(message, url).to.match(/%-encoded/);
      expect(message, url).to.not.match(/alice|hunter2/);
      expect(() => shareableDbUrl(url), url).to.throw(UsageError);
    }
  });
});
