/** URLs in messages: never with their password. */

/** `scheme://user:secret@host` becomes `scheme://user:***@host`; other URLs are unchanged. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*):[^@/]*@/i, '$1:***@');
}
