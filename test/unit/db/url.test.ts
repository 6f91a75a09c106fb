// Database URLs: both backends parse, and no label or error ever shows a password.
import { expect } from 'chai';
import { parseDbUrl } from '../../../src/db/url.js';
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

  it('parses MySQL URLs with defaults, and labels them without the password', function () {
    const full = parseDbUrl('mysql://chat:p%40ss@db.example:3307/rooms');
    expect(full).to.include({
      kind: 'mysql',
      host: 'db.example',
      port: 3307,
      user: 'chat',
      password: 'p@ss',
      database: 'rooms',
    });
    expect(full.label).to.equal('mysql://chat:***@db.example:3307/rooms');
    expect(parseDbUrl('mysql://root@127.0.0.1')).to.include({
      port: 3306,
      database: 'sunoye',
      password: undefined,
      label: 'mysql://root@127.0.0.1/sunoye',
    });
    expect(() => parseDbUrl('mysql://root@host/bad-name')).to.throw(UsageError, /database name/);
  });

  it('refuses other schemes without echoing a password', function () {
    let message = '';
    try {
      parseDbUrl('postgres://u:hunter2@h/db');
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).to.match(/unsupported database URL/);
    expect(message).to.not.include('hunter2');
    expect(redactUrl('mqtt://u:secret@host:1883')).to.equal('mqtt://u:***@host:1883');
  });
});
