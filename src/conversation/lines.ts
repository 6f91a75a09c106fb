/**
 * Lines from a byte stream, for `publish`: split on LF, a trailing CR dropped, everything else
 * kept exactly. A line that is not UTF-8 or is longer than the limit is an error naming its line
 * number; such a line is never buffered whole, so a 2 GB line costs no more memory than a short one.
 * Pulling lines one at a time gives the caller backpressure on the stream.
 */
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** For the lines of a chunk decoded at once: each line's own BOM is dropped as `utf8` drops it. */
const utf8Lines = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** One line of input and its 1-based number. */
export interface Line {
  number: number;
  text: string;
}

/** Yields the non-empty lines of `input`; throws a UsageError at the first bad line. */
export async function* readLines(input: Readable, maxBytes: number): AsyncGenerator<Line> {
  for await (const group of readLineGroups(input, maxBytes)) yield* group;
}

/**
 * Yields the non-empty lines of `input` in groups: the lines that arrived together in one read
 * (one line at a time when typed, hundreds from a pipe). The lines before a bad one are yielded
 * before the UsageError that names it.
 */
export async function* readLineGroups(input: Readable, maxBytes: number): AsyncGenerator<Line[]> {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let number = 0;

  const finish = (bytes: Buffer): Line | undefined => {
    number += 1;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end -= 1;
    if (end > maxBytes)
      throw new UsageError(
        `line ${number} is longer than ${maxBytes} bytes; nothing from it on was sent`,
      );
    if (end === 0) return undefined;
    let text: string;
    try {
      text = utf8.decode(bytes.subarray(0, end));
    } catch {
      throw new UsageError(`line ${number} is not valid UTF-8; nothing from it on was sent`);
    }
    return { number, text };
  };

  /**
   * The whole lines of `bytes` (each ended by an LF, the last one too), decoded in one go, as
   * `finish` takes them one by one; false (nothing taken) when they are not all UTF-8: `finish`
   * then finds the line that is not.
   */
  const wholeLines = (bytes: Buffer, group: Line[]): boolean => {
    let text: string;
    try {
      text = utf8Lines.decode(bytes);
    } catch {
      return false;
    }
    let at = 0;
    while (at < text.length) {
      const nl = text.indexOf('\n', at);
      let end = nl;
      number += 1;
      if (end > at && text.charCodeAt(end - 1) === 0x0d) end -= 1;
      // A UTF-16 unit is at most 3 bytes: only a long line is measured.
      if ((end - at) * 3 > maxBytes && Buffer.byteLength(text.slice(at, end)) > maxBytes)
        throw new UsageError(
          `line ${number} is longer than ${maxBytes} bytes; nothing from it on was sent`,
        );
      if (end > at) {
        const start = text.charCodeAt(at) === 0xfeff ? at + 1 : at;
        group.push({ number, text: text.slice(start, end) });
      }
      at = nl + 1;
    }
    return true;
  };

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const group: Line[] = [];
    try {
      // The line begun in an earlier chunk first; then every whole line of this one at once.
      const first = pendingBytes > 0 ? data.indexOf(0x0a) : -1;
      if (first !== -1) {
        const line = finish(Buffer.concat([...pending, data.subarray(0, first)]));
        pending = [];
        pendingBytes = 0;
        if (line) group.push(line);
        data = data.subarray(first + 1);
      }
      const last = pendingBytes === 0 ? data.lastIndexOf(0x0a) : -1;
      if (last !== -1 && wholeLines(data.subarray(0, last + 1), group))
        data = data.subarray(last + 1);
      for (;;) {
        const nl = data.indexOf(0x0a);
        if (nl === -1) break;
        const head = data.subarray(0, nl);
        data = data.subarray(nl + 1);
        const bytes = pendingBytes === 0 ? head : Buffer.concat([...pending, head]);
        pending = [];
        pendingBytes = 0;
        const line = finish(bytes);
        if (line) group.push(line);
      }
      if (data.length > 0) {
        pendingBytes += data.length;
        // One byte of slack for a CR before the LF.
        if (pendingBytes > maxBytes + 1) {
          throw new UsageError(
            `line ${number + 1} is longer than ${maxBytes} bytes; nothing from it on was sent`,
          );
        }
        pending.push(Buffer.from(data));
      }
    } catch (err) {
      if (group.length > 0) yield group;
      throw err;
    }
    if (group.length > 0) yield group;
  }
  if (pendingBytes > 0) {
    const line = finish(Buffer.concat(pending));
    if (line) yield [line];
  }
}
