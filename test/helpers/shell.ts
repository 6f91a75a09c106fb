/** Shell words for the command lines tests hand to a shell (`bash -c`, `script -c`, a tmux pane). */

/** `text` as one shell word, exactly: single-quoted, its own single quotes escaped. */
export function shellQuote(text: string): string {
  return `'${text.replace(/'/g, "'\\''")}'`;
}

/** `env` as `NAME=value` words, each value quoted (for `env -i …` or `env …` in a command line). */
export function shellAssignments(env: Record<string, string>): string {
  return Object.entries(env)
    .map(([k, v]) => `${k}=${shellQuote(v)}`)
    .join(' ');
}
