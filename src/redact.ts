/** URLs in messages: never with any part of their credentials (user name, password, query). */

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * A URL as a message may show it: `scheme://user:secret@host/x?token=t` becomes
 * `scheme://***@host/x?***`. A query or fragment may hold a token as well as a password does, so
 * it goes too; the path stays.
 */
export function redactUrl(url: string): string {
  const shown = withoutUserInfo(url);
  const rest = shown.search(/[?#]/);
  return rest < 0 ? shown : `${shown.slice(0, rest + 1)}***`;
}

/**
 * `scheme://***@host/x` for `scheme://user:secret@host/x`. When the `@` is not in the authority
 * (`bob:pa/ss@host`, `mysql//u:p@h`), where the user information ends cannot be known, so
 * everything up to the last `@` goes.
 */
function withoutUserInfo(url: string): string {
  const last = url.lastIndexOf('@');
  if (last < 0) return url;
  const scheme = SCHEME.exec(url)?.[0] ?? '';
  const authorityLength = url.slice(scheme.length).search(/[/?#]/);
  const authorityEnd = authorityLength < 0 ? url.length : scheme.length + authorityLength;
  const at = url.lastIndexOf('@', authorityEnd - 1);
  return `${scheme}***${url.slice(at >= 0 ? at : last)}`;
}
