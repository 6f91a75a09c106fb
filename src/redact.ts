/** URLs in messages: never with any part of their credentials, user name or password. */

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A URL as a message may show it: `scheme://user:secret@host/x` becomes `scheme://***@host/x`.
 * When the `@` is not in the authority (`bob:pa/ss@host`, `mysql//u:p@h`), where the user
 * information ends cannot be known, so everything up to the last `@` goes.
 */
export function redactUrl(url: string): string {
  const last = url.lastIndexOf('@');
  if (last < 0) return url;
  const scheme = SCHEME.exec(url)?.[0] ?? '';
  const authorityLength = url.slice(scheme.length).search(/[/?#]/);
  const authorityEnd = authorityLength < 0 ? url.length : scheme.length + authorityLength;
  const at = url.lastIndexOf('@', authorityEnd - 1);
  return `${scheme}***${url.slice(at >= 0 ? at : last)}`;
}
