/**
 * Lines from a byte stream, for `publish`: split on LF, a trailing CR dropped, everything else
 * kept exactly. A line that is not UTF-8 or is longer than the limit is an error naming its line
 * number; such a line is never buffered whole, so a 2 GB line costs no more memory than a short one.
 * Pulling lines one at a time gives the caller backpressure on the stream.
 */
import type { Readable } from 'node:stream';
import { UsageError } from '../errors.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

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

  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    let data = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const group: Line[] = [];
    try {
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
