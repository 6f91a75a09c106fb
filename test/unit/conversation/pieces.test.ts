// The chat building blocks: line reading, dedupe and gaps, rendering, warnings, notices.
import { Readable, Writable } from 'node:stream';
import { expect } from 'chai';
import { readLineGroups, readLines } from '../../../src/conversation/lines.js';
import { LineBatcher } from '../../../src/terminal/output.js';
import {
  clockTime,
  humanLine,
  jsonLine,
  visible,
  WarningLimiter,
} from '../../../src/terminal/render.js';
import { colourFor, colours } from '../../../src/terminal/colour.js';
import { noticeText, Sender } from '../../../src/conversation/sender.js';
import { LIMITS, StreamBook } from '../../../src/conversation/streams.js';
import { RecentIds, senderOf, SeqRanges } from '../../../src/conversation/tracker.js';
import { UsageError } from '../../../src/errors.js';
import { decodePlain } from '../../../src/protocol/index.js';

async function collect(
  chunks: (string | Buffer)[],
  max = 16,
): Promise<{ lines: string[]; error?: unknown }> {
  const lines: string[] = [];
  try {
    for await (const line of readLines(
      Readable.from(chunks.map((c) => (typeof c === 'string' ? Buffer.from(c) : c))),
      max,
    )) {
      lines.push(`${line.number}:${line.text}`);
    }
  } catch (error) {
    return { lines, error };
  }
  return { lines };
}

describe('reading lines', function () {
  it('keeps lines exactly, drops a trailing CR, skips empty lines, across chunk borders', async function () {
    const { lines } = await collect(['a b  \r\n\n', '  spaced\t', 'tail\nüñí', 'code\r\n', 'last']);
    expect(lines).to.deep.equal(['1:a b  ', '3:  spaced\ttail', '4:üñícode', '5:last']);
  });

  it('names the first line that is not UTF-8, after yielding the ones before', async function () {
    const { lines, error } = await collect([
      Buffer.from('ok\n'),
      Buffer.from([0x61, 0xc3, 0x0a]),
      Buffer.from('never\n'),
    ]);
    expect(lines).to.deep.equal(['1:ok']);
    expect(error).to.be.instanceOf(UsageError);
    expect((error as Error).message).to.equal(
      'line 2 is not valid UTF-8; nothing from it on was sent',
    );
  });

  it('groups the lines that arrived together, and yields the good ones before a bad one', async function () {
    const groups: string[][] = [];
    let error: unknown;
    try {
      const input = Readable.from([
        Buffer.from('a\nb\nc'),
        Buffer.from('\n'),
        Buffer.concat([Buffer.from('d\ne\n'), Buffer.from([0xff, 0x0a]), Buffer.from('f\n')]),
        Buffer.from('never\n'),
      ]);
      for await (const group of readLineGroups(input, 16)) groups.push(group.map((l) => l.text));
    } catch (err) {
      error = err;
    }
    expect(groups).to.deep.equal([['a', 'b'], ['c'], ['d', 'e']]);
    expect((error as Error).message).to.equal(
      'line 6 is not valid UTF-8; nothing from it on was sent',
    );
  });

  it('reads a chunk of whole lines at once as it reads them one by one', async function () {
    // A BOM opening any line is dropped (as decoding that line alone drops it); a line that is
    // only a BOM is an empty message, not skipped; CRs, blanks and numbering as ever.
    const bom = '\uFEFF';
    const { lines } = await collect([`a\r\n${bom}b\n\n${bom}\n${bom}${bom}c\nd`, 'e\n']);
    expect(lines).to.deep.equal(['1:a', '2:b', '4:', `5:${bom}c`, '6:de']);
    // The limit counts bytes of UTF-8, not characters: 6 characters of 3 bytes are 18 bytes.
    const long = await collect([`ok\n${'€'.repeat(5)}\n${'€'.repeat(6)}\nnever\n`]);
    expect(long.lines).to.deep.equal(['1:ok', `2:${'€'.repeat(5)}`]);
    expect((long.error as Error).message).to.equal(
      'line 3 is longer than 16 bytes; nothing from it on was sent',
    );
    // Not UTF-8 in the middle of a chunk: the lines before it, then the error naming it.
    const bad = await collect([
      Buffer.concat([Buffer.from('x\ny\n'), Buffer.from([0xe2, 0x82, 0x0a]), Buffer.from('z\n')]),
    ]);
    expect(bad.lines).to.deep.equal(['1:x', '2:y']);
    expect((bad.error as Error).message).to.equal(
      'line 3 is not valid UTF-8; nothing from it on was sent',
    );
  });

  it('refuses a line over the limit without buffering it whole', async function () {
    const exact = await collect(['x'.repeat(16) + '\r\n']);
    expect(exact.lines).to.deep.equal([`1:${'x'.repeat(16)}`]);
    const huge = (function* () {
      yield Buffer.from('short\n');
      for (;;) yield Buffer.alloc(1 << 20, 0x61); // endless: only the limit stops it
    })();
    const lines: string[] = [];
    let error: unknown;
    try {
      for await (const line of readLines(Readable.from(huge), 1024)) lines.push(line.text);
    } catch (err) {
      error = err;
    }
    expect(lines).to.deep.equal(['short']);
    expect((error as Error).message).to.equal(
      'line 2 is longer than 1024 bytes; nothing from it on was sent',
    );
  });
});

describe('dedupe and gaps', function () {
  it('knows every sequence number seen, however many and in whatever order', function () {
    const seen = new Map<string, SeqRanges>();
    const add = (sender: string, n: number): boolean => {
      if (!seen.has(sender)) seen.set(sender, new SeqRanges());
      return seen.get(sender)!.add(n, 1000);
    };
    // A last will (1) arriving after the join notice (2) is new; numbers seen first far from 1 are
    // fine too, as one run however long.
    expect([2, 1, 2].map((n) => add('will', n))).to.deep.equal([true, true, false]);
    for (let n = 50_000; n < 52_000; n++) expect(add('late', n)).to.equal(true);
    expect(seen.get('late')!.size).to.equal(1);
    expect([50_000, 51_999].map((n) => add('late', n))).to.deep.equal([false, false]);
    expect(add('late', 49_000)).to.equal(true);
    // 200,000 numbers, then every one of them again (a redelivered window far larger than any id cache).
    for (let n = 1; n <= 200_000; n++) expect(add('a', n)).to.equal(true);
    for (let n = 1; n <= 200_000; n += 997) expect(add('a', n)).to.equal(false);
    // Out of order: 5 and 6 missing, arriving after 7..9; then all of them again.
    const b = [1, 2, 3, 4, 7, 8, 9, 5, 6, 10].map((n) => add('b', n));
    expect(b).to.deep.equal(Array(10).fill(true));
    expect([1, 5, 6, 9, 10].map((n) => add('b', n))).to.deep.equal(Array(5).fill(false));
    expect(add('b', 11)).to.equal(true);
    expect(seen.get('b')!.size).to.equal(0);
  });

  it('keeps numbers in any order as merged runs, and gives up the lowest gap past its limit', function () {
    const runs = new SeqRanges();
    // Descending from 10,000: one run, however many numbers.
    for (let n = 10_000; n > 5000; n--) expect(runs.add(n, 8)).to.equal(true);
    expect(runs.size).to.equal(1);
    expect([5001, 7777, 10_000].map((n) => runs.has(n))).to.deep.equal([true, true, true]);
    expect([5000, 10_001, 1].map((n) => runs.has(n))).to.deep.equal([false, false, false]);
    // Scattered (every other number): at most 8 runs; the lowest gaps are given up.
    for (let n = 20_000; n < 20_100; n += 2) runs.add(n, 8);
    expect(runs.size).to.equal(8);
    expect(runs.add(20_098, 8)).to.equal(false);
    expect(runs.add(20_001, 8)).to.equal(false); // below the watermark now: given up
    expect(runs.add(20_097, 8)).to.equal(true); // a gap still kept
    // Filling gaps merges runs.
    const gaps = new SeqRanges();
    for (const n of [1, 3, 5, 7]) gaps.add(n, 8);
    expect(gaps.size).to.equal(3);
    for (const n of [6, 4]) gaps.add(n, 8);
    expect(gaps.size).to.equal(1);
    gaps.add(2, 8);
    expect(gaps.size).to.equal(0);
    expect([1, 7].map((n) => gaps.add(n, 8))).to.deep.equal([false, false]);
  });

  it('gives up the oldest gap once too many runs wait above it', function () {
    const seen = new SeqRanges();
    expect([1, 3, 5, 7].map((n) => seen.add(n, 3))).to.deep.equal([true, true, true, true]);
    expect(seen.add(9, 3)).to.equal(true); // four runs above the gap at 2: it is given up
    expect([2, 3, 9].map((n) => seen.add(n, 3))).to.deep.equal([false, false, false]);
    expect(seen.add(4, 3)).to.equal(true);
  });

  it('bounds keys in two pools: keys on probation never push out established ones', function () {
    const book = new StreamBook((k) => k === 'pinned');
    book.open('bob', 'bob/1');
    book.shown('bob');
    book.open('pinned', 'pinned/1');
    for (let i = 0; i < 10 * LIMITS.probation.keys; i++) {
      const k = `m${i}`;
      for (let s = 0; s < 10; s++) book.open(k, `${k}/${s}`);
    }
    expect(book.get('bob', 'bob/1')).to.not.equal(undefined);
    expect(book.get('pinned', 'pinned/1')).to.not.equal(undefined);
    expect([...book.all()].length).to.equal(2 + LIMITS.probation.keys * LIMITS.probation.streams);
    // A key's own streams: past its limit, its least active is forgotten, and when.
    for (let s = 2; s <= LIMITS.established.streams + 1; s++) book.open('bob', `bob/${s}`);
    expect(book.get('bob', 'bob/1')).to.equal(undefined);
    expect(book.forgotAt('bob')).to.equal(0); // bob/1 had delivered nothing yet
    // Established keys: past the limit, the one that showed a line least recently goes.
    for (let i = 0; i < LIMITS.established.keys; i++) book.shown(`e${i}`);
    expect(book.isEstablished('bob')).to.equal(false);
    expect(book.isEstablished(`e${LIMITS.established.keys - 1}`)).to.equal(true);
  });

  it('remembers ids up to its capacity', function () {
    const ids = new RecentIds(3);
    expect(['a', 'b', 'a', 'c', 'd', 'a'].map((id) => ids.add(id))).to.deep.equal([
      true,
      true,
      false,
      true,
      true,
      true,
    ]);
  });

  it('takes the sender part of an id', function () {
    expect(senderOf('Ab_-x-12')).to.equal('Ab_-x');
  });
});

describe('rendering', function () {
  const plain = colours(false);
  const at = new Date('2026-11-22T10:04:05Z');

  it('colours a terminal only, as NO_COLOR, FORCE_COLOR and TERM say', function () {
    const tty = { isTTY: true };
    const pipe = { isTTY: false };
    expect(colourFor(tty, {}).red('x')).to.equal('\u001b[31mx\u001b[39m');
    expect(colourFor(tty, {}).dim('x')).to.equal('\u001b[2mx\u001b[22m');
    expect(colourFor(pipe, {}).red('x')).to.equal('x');
    expect(colourFor(tty, { NO_COLOR: '1' }).enabled).to.equal(false);
    expect(colourFor(tty, { NO_COLOR: '' }).enabled).to.equal(true);
    expect(colourFor(tty, { TERM: 'dumb' }).enabled).to.equal(false);
    expect(colourFor(pipe, { FORCE_COLOR: '1' }).enabled).to.equal(true);
    expect(colourFor(tty, { FORCE_COLOR: '0' }).enabled).to.equal(false);
    expect(colourFor(pipe, { FORCE_COLOR: '1', NO_COLOR: '1' }).enabled).to.equal(false);
    expect(colourFor(pipe, { FORCE_COLOR: '' }).enabled).to.equal(true);
    expect(colourFor(pipe, { FORCE_COLOR: 'false' }).enabled).to.equal(false);
    // Any level writes sunoye's basic styles the same way.
    expect(colourFor(pipe, { FORCE_COLOR: '3' }).gray('x')).to.equal('\u001b[90mx\u001b[39m');
    expect(colours(false).bold('x')).to.equal('x');
  });

  it("decides from the stream and environment it is given, not the process's", function () {
    const saved = { NO_COLOR: process.env.NO_COLOR, FORCE_COLOR: process.env.FORCE_COLOR };
    try {
      process.env.NO_COLOR = '1';
      process.env.FORCE_COLOR = '0';
      expect(colourFor({ isTTY: true }, {}).red('x')).to.equal('\u001b[31mx\u001b[39m');
    } finally {
      for (const [key, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

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
});

describe('sender stamps and notices', function () {
  it('numbers messages and gives them room-unique ids', function () {
    const a = new Sender('alice');
    const b = new Sender('alice');
    const m1 = a.message('x');
    const m2 = a.message('y');
    expect([m1.seq, m2.seq]).to.deep.equal([1, 2]);
    expect(senderOf(m1.id!)).to.equal(a.id);
    expect(a.id).to.not.equal(b.id);
    expect(decodePlain(JSON.stringify(m2)).ok).to.equal(true);
  });

  it("uses MQTT-Chat's notice wording", function () {
    expect(noticeText('join', 'bob', 'chat/x')).to.equal('User bob is now subscribed to chat/x .');
    expect(noticeText('leave', 'bob', 'chat/x')).to.equal('User bob disconnecting from chat/x .');
    expect(noticeText('lost', 'bob', 'chat/x')).to.equal('User bob timed out.');
    expect(noticeText('closed', 'bob', 'sunoye/room/482913', '482913')).to.equal(
      'Room 482913 was closed by bob.',
    );
  });
});

describe('batched output', function () {
  /** A real Writable whose writes complete only when `release` is called. */
  function slowSink(): { sink: Writable; written: string[]; release: () => void } {
    const written: string[] = [];
    const waiting: (() => void)[] = [];
    const sink = new Writable({
      highWaterMark: 1024,
      decodeStrings: false,
      write(chunk: string, _encoding, done) {
        written.push(chunk);
        waiting.push(done);
      },
    });
    return { sink, written, release: () => waiting.splice(0).forEach((done) => done()) };
  }

  it('writes a burst in one call when the event loop turns', async function () {
    const { sink, written, release } = slowSink();
    const out = new LineBatcher(sink);
    out.write('a\n');
    out.write('b\n');
    expect(written).to.deep.equal([]);
    await new Promise((resolve) => setImmediate(resolve));
    expect(written).to.deep.equal(['a\nb\n']);
    release();
  });

  it('pauses its source while the stream is full, and resumes it once drained', async function () {
    const { sink, written, release } = slowSink();
    const flow: string[] = [];
    const out = new LineBatcher(sink, {
      pause: () => flow.push('pause'),
      resume: () => flow.push('resume'),
    });
    out.write('x'.repeat(100) + '\n');
    out.flush();
    expect(flow).to.deep.equal([]); // under the stream's high-water mark
    out.write('y'.repeat(2000) + '\n');
    out.flush();
    out.write('z\n');
    out.flush();
    expect(flow).to.deep.equal(['pause']); // once, however many writes while full
    // The sink takes one chunk at a time: let it finish each.
    while (written.length < 3) {
      release();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(flow).to.deep.equal(['pause']);
    release();
    await new Promise((resolve) => setImmediate(resolve));
    expect(flow).to.deep.equal(['pause', 'resume']);
    expect(written.join('')).to.equal(`${'x'.repeat(100)}\n${'y'.repeat(2000)}\nz\n`);
  });
});
