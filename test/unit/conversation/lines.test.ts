// Reading lines from standard input: exact text, numbering, UTF-8 and the length limit.
import { Readable } from 'node:stream';
import { expect } from 'chai';
import { readLineGroups, readLines } from '../../../src/conversation/lines.js';
import { UsageError } from '../../../src/errors.js';

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
