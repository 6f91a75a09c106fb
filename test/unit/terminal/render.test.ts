// What a listener prints about each payload: the time it is about, the room, and whether it is yours.
import { expect } from 'chai';
import type { ShownWith } from '../../../src/conversation/inbox.js';
import {
  clockTime,
  humanLine,
  jsonLine,
  timeOf,
  WarningLimiter,
  windowLine,
} from '../../../src/terminal/render.js';
import { colours } from '../../../src/terminal/colour.js';
import { Sender } from '../../../src/conversation/sender.js';
import { jsonText, visible } from '../../../src/protocol/sanitise.js';
import { decodePlain } from '../../../src/protocol/index.js';

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

  it('shows a "/me" message as an action, with the marks of who sent it; JSON says "action"', function () {
    const at = new Date();
    const time = clockTime(at);
    const wave = new Sender('bob').message('/me waves');
    expect(humanLine(wave, plain, at, known)).to.equal(`${time} * bob waves\n`);
    expect(windowLine(wave, plain, at, you)).to.equal(`${time} * bob (you) waves\n`);
    const changed: ShownWith = {
      sender: { trust: 'changed', key: 'eeee-ffff-0000-1111', pinned: 'aaaa-bbbb-cccc-dddd' },
      late: false,
    };
    expect(humanLine(wave, plain, at, changed)).to.equal(
      `${time} * [key eeee-ffff-0000-1111, NOT the "bob" you know] waves\n`,
    );
    // A name with a blank is quoted: "bob waves" waving is not bob.
    const spaced = new Sender('bob waves').message('/me at you');
    expect(humanLine(spaced, plain, at, known)).to.equal(`${time} * "bob waves" at you\n`);
    const json = JSON.parse(jsonLine(wave, at, known)) as Record<string, unknown>;
    expect(json).to.include({ message: '/me waves', action: true });
    // Not actions: "/me" alone, "/meow", a notice.
    for (const text of ['/me', '/me  ', '/meow']) {
      const line = JSON.parse(jsonLine(new Sender('bob').message(text), at, known)) as object;
      expect(line).not.to.have.property('action');
      expect(humanLine(new Sender('bob').message(text), plain, at, known)).to.include(
        `bob: ${text}`,
      );
    }
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

describe('rendering history and recovered lines', function () {
  const history: ShownWith = { ...known, history: true };
  const recovered: ShownWith = { ...known, late: true, recovered: true };

  it('marks a line of history as earlier, with its signing time and its date when not today', function () {
    const yesterday = stampedAgo(new Sender('bob').message('said yesterday'), 86_400_000);
    const line = humanLine(yesterday, plain, new Date(), history);
    const signed = new Date(yesterday.ts);
    expect(clockTime(signed)).to.match(/^\d{4}-\d{2}-\d{2} /);
    expect(line).to.equal(`${clockTime(signed)} (earlier) bob: said yesterday\n`);
    const join = stampedAgo(new Sender('bob').notice('join', TOPIC, '123456'), 60_000);
    expect(windowLine(join, plain, new Date(), history, '123456')).to.match(
      /^\d\d:\d\d:\d\d \(earlier\) -- bob joined/,
    );
    // A live line carries no such mark.
    expect(humanLine(yesterday, plain, new Date(), known)).to.not.include('(earlier)');
  });

  it('says "history": true in JSON, keeping the signing time', function () {
    const sent = stampedAgo(new Sender('bob').message('hi'), 60_000);
    const json = JSON.parse(jsonLine(sent, new Date(), history, '123456')) as Record<
      string,
      unknown
    >;
    expect(json.history).to.equal(true);
    expect(json.ts).to.equal(sent.ts);
    expect(json).to.not.have.property('late');
    const live = JSON.parse(jsonLine(sent, new Date(), known, '123456')) as Record<string, unknown>;
    expect(live).to.not.have.property('history');
  });

  it('shows a line found in the history after it never arrived as late, and says so', function () {
    const sent = stampedAgo(new Sender('bob').message('lost on the way'), 60_000);
    expect(humanLine(sent, plain, new Date(), recovered)).to.include(
      "bob (late: found in the room's history): lost on the way",
    );
    expect(windowLine(sent, plain, new Date(), recovered)).to.include(
      "(late: found in the room's history)",
    );
    const json = JSON.parse(jsonLine(sent, new Date(), recovered, '123456')) as Record<
      string,
      unknown
    >;
    expect(json.late).to.equal(true);
    expect(json.recovered).to.equal(true);
  });

  it('writes the JSON line of a message directly exactly as through an object', function () {
    // What jsonLine writes without an object must be what jsonText writes of the object.
    const at = new Date();
    const hows: (ShownWith | undefined)[] = [
      undefined,
      known,
      you,
      { sender: { trust: 'new', key: '1234-5678-9abc-def0' }, late: true },
      { sender: { trust: 'known', key: '1234-5678-9abc-def0' }, late: true, recovered: true },
      { sender: { trust: 'known', key: '1234-5678-9abc-def0' }, late: false, history: true },
    ];
    const texts = [
      'plain words',
      '/me waves',
      'zoë 😀 "quoted" \\ back',
      'tab\there',
      'bidi \u202E',
    ];
    for (const room of [undefined, '123456', 'chat/"lobby"'])
      for (const how of hows)
        for (const text of texts)
          for (const from of ['bob', 'b\u200Bob', 'x"y']) {
            const payload = { ...new Sender(from).message(text), ts: '2026-12-05T10:00:00.5Z' };
            const out: Record<string, unknown> = { type: 'message' };
            if (room !== undefined) out.room = room;
            out.from = from;
            out.message = visible(text);
            if (text.startsWith('/me ')) out.action = true;
            out.ts = '2026-12-05T10:00:00.500Z';
            out.id = payload.id;
            out.seq = payload.seq;
            const sender = how?.sender ?? { trust: 'unsigned' };
            if (sender.key !== undefined) out.key = sender.key;
            out.trust = sender.trust;
            out.mine = sender.trust === 'you';
            if (how?.late || how?.recovered) out.late = true;
            if (how?.recovered) out.recovered = true;
            if (how?.history) out.history = true;
            if (visible(text) !== text) out.raw = text;
            expect(jsonLine(payload, at, how, room)).to.equal(`${jsonText(out)}\n`);
          }
  });
});

describe('rendering: escapes, trust marks, dates, JSON and warnings', function () {
  const at = new Date('2026-11-22T10:04:05Z');

  it('never lets a payload drive the terminal', function () {
    const evil = 'hi\u001b[2J\u001b]0;pwned\u0007 \u009b31m \u202eevil';
    expect(visible(evil)).to.equal('hi\\x1B[2J\\x1B]0;pwned\\x07 \\x9B31m \\u202Eevil');
    const payload = decodePlain(JSON.stringify({ type: 'message', from: 'm', message: evil }));
    if (!payload.ok) throw new Error(payload.reason);
    const line = humanLine(payload.payload, colours(true), at);
    // The only escape sequences left are the colours' own.
    const [head, ...afterEscapes] = line.split('\u001b');
    expect(afterEscapes.every((part) => /^\[[0-9;]*m/.test(part))).to.equal(true);
    const text = [head, ...afterEscapes.map((part) => part.replace(/^\[[0-9;]*m/, ''))].join('');
    expect([...text].filter((c) => c < ' ' && c !== '\n')).to.deep.equal([]);
    expect([...text].filter((c) => c >= '\u007f' && c <= '\u009f')).to.deep.equal([]);
  });

  it('marks your own messages (your key under your name) and dims notices', function () {
    const message = { type: 'message', from: 'me', message: 'x' } as const;
    const you = { sender: { trust: 'you', key: '1111-2222-3333-4444' }, late: false } as const;
    expect(humanLine(message, plain, at, you)).to.match(
      /^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d me \(you\): x\n$/,
    );
    // Unsigned (a plain room): the name is not verified, so it is not marked as yours.
    expect(humanLine(message, plain, at)).to.match(/^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d me: x\n$/);
    const notice = humanLine(
      { type: 'notice', from: 'b', notice: 'User b timed out.', event: 'lost' },
      plain,
      at,
    );
    expect(notice).to.match(/^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d -- User b timed out\.\n$/);
  });

  it('never shows a known name under another key as that person', function () {
    const forged = { type: 'message', from: 'bob', message: 'send me the keys' } as const;
    const line = humanLine(forged, plain, at, {
      sender: { trust: 'changed', key: 'aaaa-bbbb-cccc-dddd', pinned: '1111-2222-3333-4444' },
      late: false,
    });
    expect(line).to.match(
      /^(\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\d \[key aaaa-bbbb-cccc-dddd, NOT the "bob" you know\]: send me the keys\n$/,
    );
    const late = humanLine(forged, plain, at, { sender: { trust: 'known' }, late: true });
    expect(late).to.include('bob (late: sent before lines shown above): ');
  });

  it('shows the date of a time that is not today', function () {
    const now = new Date(2026, 10, 30, 12, 0, 0);
    expect(clockTime(new Date(2026, 10, 30, 9, 5, 7), now)).to.equal('09:05:07');
    expect(clockTime(new Date(2026, 10, 29, 23, 59, 59), now)).to.equal('2026-11-29 23:59:59');
  });

  it('prints JSON lines with the fields listeners promise', function () {
    const line = jsonLine(
      { type: 'notice', from: 'b', notice: 'n', event: 'join', id: 'x-1', seq: 1 },
      at,
    );
    expect(JSON.parse(line)).to.deep.equal({
      type: 'notice',
      from: 'b',
      notice: 'n',
      event: 'join',
      ts: at.toISOString(),
      id: 'x-1',
      seq: 1,
      trust: 'unsigned',
      mine: false,
    });
  });

  it('rate-limits warnings and sums up the ones held back', function () {
    let t = 0;
    const out: string[] = [];
    const limiter = new WarningLimiter(
      (l) => out.push(l),
      1000,
      () => t,
    );
    limiter.warn('one');
    limiter.warn('two');
    limiter.warn('three');
    t = 500;
    limiter.flush();
    expect(out).to.deep.equal([
      'warning: one\n',
      'warning: three (and 1 similar warning before it)\n',
    ]);
  });

  it('prints one line when a warning comes as the held-back one is due, not two in a row', function () {
    let t = 0;
    const out: string[] = [];
    const limiter = new WarningLimiter(
      (l) => out.push(l),
      1000,
      () => t,
    );
    limiter.warn('one');
    t = 400;
    limiter.warn('two');
    // The interval is up, and the timer that prints 'two' has not run yet (timers run late).
    t = 1000;
    limiter.warn('three');
    expect(out).to.deep.equal(['warning: one\n']);
    limiter.flush();
    expect(out).to.deep.equal([
      'warning: one\n',
      'warning: three (and 1 similar warning before it)\n',
    ]);
  });
});
