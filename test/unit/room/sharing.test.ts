// The invitation `room create` prints: the `room join` line with what is not a default, and no
// password of any kind.
import { expect } from 'chai';
import { invitation } from '../../../src/room/sharing.js';
import { resolveConfig } from '../../../src/config/config.js';

describe('the invitation to a room', function () {
  const env = { HOME: '/home/alice', USER: 'alice', SUNOYE_HOME: '/nonexistent' };
  const invite = (settings: Record<string, string>) =>
    invitation(resolveConfig({}, { ...env, ...settings }), { ...env, ...settings }, '482913');

  it('is a bare `room join` on the defaults, for the creator alone: the per-user SQLite file is theirs', function () {
    const { line, notes, own, use } = invite({});
    expect(line).to.equal('room join 482913');
    expect(own).to.equal(true);
    expect(use).to.equal(
      '`room chat 482913` opens the room window, and `listen 482913` and `publish 482913` read and write it in pipes.',
    );
    expect(notes).to.have.length(1);
    expect(notes[0]).to.include(
      'your own registry, the SQLite file /home/alice/.local/share/sunoye/sunoye.db, which only you can open: nobody else can join it',
    );
    expect(notes[0]).to.include('across machines a shared MySQL/MariaDB');
  });

  it('names the broker and database that are not the defaults, without their passwords', function () {
    const { line, notes } = invite({
      SUNOYE_BROKER: 'mqtts://bob:Broker-Pw@Chat.Example/?token=t',
      SUNOYE_DB: 'mysql://chat:Db-Pw@db.example:3307/rooms?ssl=true&other=Db-Pw',
      SUNOYE_TOPIC_PREFIX: 'team',
    });
    expect(line).to.equal(
      "room join 482913 --broker mqtts://chat.example:8883 --db 'mysql://chat@db.example:3307/rooms?ssl=true'",
    );
    const text = [line, ...notes].join('\n');
    expect(text).to.not.include('Pw');
    expect(notes[0]).to.include(
      'given the database URL with its password (--db, SUNOYE_DB or "db" in config.json) and the same --topic-prefix team',
    );
    expect(notes[0]).to.include('; --broker is remembered with the room.');
    expect(text).to.include("The database URL's password is left out");
    expect(text).to.include('The broker asks for a user name and password');
    expect(text).to.not.include('loopback');
  });

  it('omits the default broker under any of its names, and names a SQLite file given', function () {
    const { line, notes } = invite({
      SUNOYE_BROKER: 'mqtt://127.0.0.1:1883',
      SUNOYE_DB: 'sqlite:/srv/chat/rooms of ours.db',
    });
    expect(line).to.equal("room join 482913 --db 'sqlite:/srv/chat/rooms of ours.db'");
    expect(notes[1]).to.include('the people on this machine who can read and write that file');
  });

  it("gives the lists of a cluster's nodes whole, and names the loopback ones", function () {
    const { line, notes } = invite({
      SUNOYE_BROKER: 'mqtt://n1.example:1883,mqtt://n2.example:1883',
      SUNOYE_DB: 'mysql://chat:Db-Pw@127.0.0.1:3307,db2.example,127.0.0.1:3308/rooms',
    });
    expect(line).to.equal(
      'room join 482913 --broker mqtt://n1.example:1883,mqtt://n2.example:1883 --db mysql://chat@127.0.0.1:3307,db2.example,127.0.0.1:3308/rooms',
    );
    const text = [line, ...notes].join('\n');
    expect(text).to.not.include('Pw');
    expect(text).to.include("The database (127.0.0.1) is on this machine's loopback address");
  });
});
