/** What the room-window tests share: a person's environment, a `room chat` window, typed lines. */
import { join } from 'node:path';
import { openTerminal, type Terminal } from './terminal.js';

/**
 * A person in a test's scratch folder `dir` (their HOME), with the one registry file there, the
 * broker at `brokerUrl`, a SUNOYE_HOME of their own, and `extra`.
 */
export function scratchUser(
  dir: string,
  brokerUrl: string,
  name: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    HOME: dir,
    SUNOYE_DB: `sqlite:${join(dir, 'registry.db')}`,
    SUNOYE_BROKER: brokerUrl,
    SUNOYE_NAME: name,
    SUNOYE_HOME: join(dir, `home-${name}`),
    ...extra,
  };
}

/**
 * Opens `room chat ROOM` as `env` says (added to `terminals`) in a terminal of `size`, and waits
 * for the window's own join line (`-- NAME joined`, with "(you)" in a room with keys).
 */
export async function openChatWindow(
  room: string,
  env: Record<string, string>,
  terminals: Terminal[],
  size = { columns: 80, rows: 24 },
): Promise<Terminal> {
  const name = env.SUNOYE_NAME ?? '';
  const terminal = await openTerminal('room', ['chat', room], env, size);
  terminals.push(terminal);
  await terminal.waitFor(`${name}'s window`, (rows) =>
    rows.some((r) => r.includes(`-- ${name} joined`)),
  );
  return terminal;
}

/** Types `text` in `terminal` and presses Enter. */
export async function typeLine(terminal: Terminal, text: string): Promise<void> {
  await terminal.type(text);
  await terminal.press('Enter');
}
