// What a listener prints about each payload: the time it is about, the room, and whether it is yours.
import { expect } from 'chai';
import type { ShownWith } from '../../../src/chat/inbox.js';
import { clockTime, humanLine, jsonLine, timeOf } from '../../../src/chat/render.js';
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
