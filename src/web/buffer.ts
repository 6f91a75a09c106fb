/**
 * The page's `Buffer`: the `buffer` package's, which the shared protocol modules use as Node's,
 * taught the one encoding they use that it lacks: base64url (a signing key's name in the inbox's
 * tables, a sender's id). The page's bundle injects it wherever a module names `Buffer`.
 */
import { Buffer } from 'buffer';

type ToString = (this: Uint8Array, encoding?: string, start?: number, end?: number) => string;
type From = (value: unknown, encoding?: unknown, length?: unknown) => Uint8Array;

const prototype = Buffer.prototype as unknown as { toString: ToString };
const toString = prototype.toString;
prototype.toString = function (encoding, start, end) {
  if (encoding !== 'base64url') return toString.call(this, encoding, start, end);
  return toString
    .call(this, 'base64', start, end)
    .replace(/\+/g, '-')
    .replace(/\//g, '_')
    .replace(/=+$/, '');
};

const statics = Buffer as unknown as { from: From };
const from: From = statics.from.bind(Buffer);
statics.from = (value, encoding, length) => {
  if (typeof value === 'string' && encoding === 'base64url')
    return from(value.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  // As many arguments as given: the package tells `from(x)` from `from(x, undefined)`.
  if (length !== undefined) return from(value, encoding, length);
  return encoding === undefined ? from(value) : from(value, encoding);
};

export { Buffer };
