// Batched output: a burst in one write, and back-pressure on its source.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { LineBatcher } from '../../../src/terminal/output.js';

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
