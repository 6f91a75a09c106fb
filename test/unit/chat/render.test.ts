// What a listener prints about each payload: the time it is about, the room, and whether it is yours.
import { expect } from 'chai';
import type { ShownWith } from '../../../src/chat/inbox.js';
import { clockTime, humanLine, jsonLine, timeOf, windowLine } from '../../../src/chat/render.js';
import { colours } from '../../../src/chat/colour.js';
import { Sender } from '../../../src/chat/sender.js';

const TOPIC = 'sunoye/room/123456';
const plain = colours(false);
const you: ShownWith = { sender: { trust: 'you', key: '1111-2222-3333-4444' }, late: false };
const known: ShownWith = { sender: { trust: 'known', key: 'aaaa-bbbb-cccc-dddd' }, late: false };

/** A payload stamped `agoMs` before now. */
function stampedAgo<T extends { ts?: string }>(payload: T, agoMs: number): T & { ts: string } {
  return { ...payload, ts: new Date(Date.now() - agoMs).toISOString() };
}

describe('rendering: times, rooms and your own lines', function () {
  it('shows a last will at the time it arrived, not when its listener started', function () {
    // A will is signed when its listener starts; the broker sends it when that listener is lost.
    const will = stampedAgo(new Sender('bob').notice('lost', TOPIC, '123456'), 3_600_000);
    const arrived = new Date();
    expect(timeOf(will, arrived)).to.equal(arrived);
    const json = JSON.parse(jsonLine(will, arrived, known, '123456')) as Record<string, unknown>;
    expect(json.ts).to.equal(arrived.toISOString());
    expect(json.since).to.equal(will.ts);
    const line = humanLine(will, plain, arrived, known);
    expect(line.startsWith(`${clockTime(arrived)} -- User bob timed out.`), line).to.equal(true);
    expect(line).to.not.include(clockTime(new Date(will.ts)));
  });

  it('shows every other payload at the time it was signed', function () {
    const sent = stampedAgo(new Sender('bob').message('hello'), 60_000);
    const join = stampedAgo(new Sender('bob').notice('join', TOPIC, '123456'), 60_000);
    const arrived = new Date();
    for (const payload of [sent, join]) {
      expect(timeOf(payload, arrived).toISOString()).to.equal(payload.ts);
      const json = JSON.parse(jsonLine(payload, arrived, known)) as Record<string, unknown>;
      expect(json.ts).to.equal(payload.ts);
      expect(json).to.not.have.property('since');
      expect(humanLine(payload, plain, arrived, known)).to.match(
        new RegExp(`^${clockTime(new Date(payload.ts))} `),
      );
    }
    // MQTT-Chat's payloads carry no time: the time they arrived.
    const untimed = { type: 'message', from: 'py', message: 'hi' } as const;
    const untimedJson = JSON.parse(jsonLine(untimed, arrived)) as { ts: string };
    expect(untimedJson.ts).to.equal(arrived.toISOString());
  });

  it('marks a will that came before our join line, and nothing else of a backlog', function () {
    const arrived = new Date();
    const backlog: ShownWith = { ...known, beforeJoin: true };
    const will = new Sender('me').notice('lost', TOPIC, '123456');
    expect(humanLine(will, plain, arrived, backlog)).to.match(
      /-- User me timed out\. \(before you joined\)\n$/,
    );
    expect(humanLine(will, plain, arrived, known)).to.match(/-- User me timed out\.\n$/);
    const message = new Sender('bob').message('while you were away');
    expect(humanLine(message, plain, arrived, backlog)).to.match(/ bob: while you were away\n$/);
  });

  it('says in JSON which room a line is from and whether it is yours', function () {
    const mine = new Sender('me').message('mine');
    const theirs = new Sender('bob').message('theirs');
    const at = new Date();
    const parsed = (line: string) => JSON.parse(line) as Record<string, unknown>;
    expect(parsed(jsonLine(mine, at, you, '123456'))).to.include({
      type: 'message',
      room: '123456',
      from: 'me',
      trust: 'you',
      mine: true,
    });
    expect(parsed(jsonLine(theirs, at, known, '123456'))).to.include({
      room: '123456',
      mine: false,
    });
    // A raw topic names the topic; an unsigned line is never yours, whatever its name.
    expect(parsed(jsonLine(mine, at, undefined, 'chat/lobby'))).to.include({
      room: 'chat/lobby',
      trust: 'unsigned',
      mine: false,
    });
  });
});

describe('rendering in the room window', function () {
  const at = new Date();
  const changed: ShownWith = {
    sender: { trust: 'changed', key: '9999-8888-7777-6666' },
    late: false,
  };

  it('says presence in words, with the marks of who sent it, and hides the end of a stream', function () {
    const bob = new Sender('bob');
    const line = (p: Parameters<typeof windowLine>[0], how: ShownWith) =>
      windowLine(p, plain, at, how, '123456').replace(/^\S+ /, '');
    expect(line(bob.notice('join', TOPIC, '123456'), known)).to.equal(
      '-- bob joined [key aaaa-bbbb-cccc-dddd]\n',
    );
    expect(line(bob.notice('leave', TOPIC, '123456'), known)).to.equal('-- bob left\n');
    expect(line(bob.notice('lost', TOPIC, '123456'), known)).to.equal('-- bob lost connection\n');
    expect(line(bob.notice('closed', TOPIC, '123456'), known)).to.equal(
      '-- room 123456 closed by bob\n',
    );
    expect(line(bob.notice('join', TOPIC, '123456'), you)).to.equal('-- bob joined (you)\n');
    // Someone else's key under a known name is never shown as that person.
    expect(line(bob.notice('leave', TOPIC, '123456'), changed)).to.equal(
      '[key 9999-8888-7777-6666, NOT the "bob" you know] says: bob left\n',
    );
    expect(windowLine(bob.end(), plain, at, known)).to.equal('');
    // On a raw topic there is no room to close: the notice is in its sender's words.
    expect(
      windowLine(bob.notice('closed', 'chat/general'), plain, at, known).replace(/^\S+ /, ''),
    ).to.equal('-- Room chat/general was closed by bob.\n');
    expect(line(bob.message('hi'), you)).to.equal('bob (you): hi\n');
  });

  it('gives names colours that never look like an error (no red, no yellow)', function () {
    const on = colours(true);
    const red = on.red('x').slice(0, on.red('x').indexOf('x'));
    const yellow = on.yellow('x').slice(0, on.yellow('x').indexOf('x'));
    for (let i = 0; i < 500; i += 1) {
      const name = `user${i}`;
      for (const payload of [
        new Sender(name).message('hello'),
        new Sender(name).notice('join', TOPIC, '123456'),
      ]) {
        for (const text of [
          windowLine(payload, on, at, known),
          humanLine(payload, on, at, known),
        ]) {
          expect(text, name).to.not.include(red);
          expect(text, name).to.not.include(yellow);
        }
      }
    }
  });
});
