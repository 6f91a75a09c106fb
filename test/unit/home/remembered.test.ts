// Remembered rooms: private files, one per room (several processes writing at once:
// test/integration/remembered-writers.test.ts).
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import {
  findRemembered,
  forgetRoom,
  listRemembered,
  rememberRoom,
} from '../../../src/home/remembered.js';

describe('remembered rooms', function () {
  let home: string;
  beforeEach(function () {
    home = join(mkdtempSync(join(tmpdir(), 'sunoye-home-')), 'home');
  });
  afterEach(function () {
    rmSync(join(home, '..'), { recursive: true, force: true });
  });

  const entry = (room: string, store = 'sqlite:/x.db') => ({
    room,
    store,
    mode: 'encrypted' as const,
    secret: randomBytes(32).toString('base64'),
  });

  it('writes a 0600 file in a 0700 folder, holding the secret and never a password', function () {
    const saved = rememberRoom(home, entry('482913'));
    const dir = join(home, 'rooms');
    expect(statSync(dir).mode & 0o777).to.equal(0o700);
    const [file] = readdirSync(dir);
    expect(statSync(join(dir, file!)).mode & 0o777).to.equal(0o600);
    expect(JSON.parse(readFileSync(join(dir, file!), 'utf8'))).to.not.have.property('password');
    expect(findRemembered(home, 'sqlite:/x.db', '482913')).to.deep.equal(saved);
    expect(findRemembered(home, 'sqlite:/y.db', '482913')).to.equal(undefined);
  });

  it('refuses a file that other users can read', function () {
    rememberRoom(home, entry('482913'));
    const dir = join(home, 'rooms');
    chmodSync(join(dir, readdirSync(dir)[0]!), 0o644);
    expect(() => findRemembered(home, 'sqlite:/x.db', '482913')).to.throw(
      /can be read by other users; run `chmod 600/,
    );
  });

  it('treats the same MySQL database under another user name as the same registry', function () {
    rememberRoom(home, entry('482913', 'mysql://alice@db:3306/sunoye'));
    expect(findRemembered(home, 'mysql://bob:***@db:3306/sunoye', '482913')).to.not.equal(
      undefined,
    );
  });

  it('keeps every room remembered, and forgets one', function () {
    const rooms = Array.from({ length: 40 }, (_, i) => String(200000 + i));
    for (const room of rooms) rememberRoom(home, entry(room));
    expect(listRemembered(home).map((r) => r.room)).to.deep.equal(rooms);
    expect(forgetRoom(home, 'sqlite:/x.db', rooms[0]!)).to.equal(true);
    expect(forgetRoom(home, 'sqlite:/x.db', rooms[0]!)).to.equal(false);
    expect(listRemembered(home)).to.have.length(39);
  });
});
