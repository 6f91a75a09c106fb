/**
 * The room page (`room serve --web`): asks for a room's number and password, derives the room
 * secret in a Worker from the room's public record, and has the server check the verifier before
 * anything goes to the room; with the right password it connects to the room's broker over
 * MQTT-over-WebSocket and subscribes to the room's topic. Nothing from the network is ever set as
 * HTML: every text goes in with textContent.
 *
 * Once in, it is a room window (`room.ts` over the shared core), as `room chat` is in a terminal.
 */
import mqtt from 'mqtt';
import type { ShownWith } from '../conversation/inbox.js';
import type { SenderView } from '../conversation/senders.js';
import type { PublicRecord } from '../http/rooms-api.js';
import { checkKdfParams } from '../protocol/kdf.js';
import { checkPayload, type ChatPayload } from '../protocol/payload.js';
import { fingerprint } from '../protocol/points.js';
import { visibleLine, visibleName } from '../protocol/sanitise.js';
import { messageKeyWeb, verifierWeb } from '../protocol/web-crypto.js';
import { membershipSignedWeb, webPlainCodec, webRoomCodec } from '../protocol/web-envelope.js';
import { pageIdentity } from './identity.js';
import { PageMembership } from './membership.js';
import { PageRoom, type PageStatus } from './room.js';
import type { DeriveAnswer, DeriveRequest } from './scrypt-worker.js';
import { storageDocument } from './storage.js';
import { ACTION_PREFIX, HISTORY_DIVIDER, HISTORY_MARK } from '../terminal/render.js';
import { pageHistoryReader, pageHistoryRows, pageRowOpener } from './history.js';

/** A typed action (`/me waves`), as MQTT-Chat sends it. */

/** Where the page is; the tests wait on `body[data-state]`. */
type PageState =
  | 'ready'
  | 'fetching'
  | 'deriving'
  | 'checking'
  | 'refused'
  | 'connecting'
  | 'joined'
  | 'left'
  | 'closed'
  | 'error';

const ROOM_NUMBER = /^[1-9][0-9]{5}$/;

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

const main = element<HTMLElement>('main');
const form = element<HTMLFormElement>('join');
const nameInput = element<HTMLInputElement>('name');
const roomInput = element<HTMLInputElement>('room');
const passwordInput = element<HTMLInputElement>('password');
const enter = element<HTMLButtonElement>('enter');
const progress = element<HTMLProgressElement>('progress');
const status = element<HTMLParagraphElement>('status');

/** Shows `text` (as text, never HTML) and the page's state. */
function show(state: PageState, text: string): void {
  document.body.dataset.state = state;
  status.textContent = text;
  enter.disabled = !['ready', 'refused', 'error'].includes(state);
}

/** A failure to show the user as it is. */
class PageError extends Error {}

/** The server says the password is not the room's. */
class WrongPassword extends PageError {}

/** The room number in the URL's fragment (`#482913`): it fills the form's number, never more. */
function roomFromFragment(): void {
  const fragment = decodeURIComponent(location.hash.slice(1));
  if (ROOM_NUMBER.test(fragment)) roomInput.value = fragment;
}

/** Room `room`'s public record, checked before anything is derived from it. */
async function fetchRecord(room: string): Promise<PublicRecord> {
  const response = await fetch(`/api/rooms/${room}`, { cache: 'no-store' });
  const body = (await response.json().catch(() => ({}))) as Partial<PublicRecord> & {
    error?: unknown;
  };
  if (!response.ok)
    throw new PageError(
      typeof body.error === 'string' ? body.error : `the server answered ${response.status}`,
    );
  // Bounds the work a tampered record could ask for before any is done.
  const kdf = checkKdfParams(body.kdf);
  const { mode, broker, topic, history } = body;
  const wellFormed =
    body.room === room &&
    typeof history === 'boolean' &&
    (mode === 'encrypted' || mode === 'plain') &&
    typeof broker === 'string' &&
    /^wss?:\/\//.test(broker) &&
    typeof topic === 'string' &&
    topic.endsWith(`/room/${room}`);
  if (!wellFormed) throw new PageError(`the server's record of room ${room} is malformed`);
  return { room, mode, kdf, broker, topic, history };
}

/** Derives the room secret in the Worker, moving the progress bar as it goes. */
function deriveSecret(request: DeriveRequest): Promise<Uint8Array> {
  const worker = new Worker('/scrypt-worker.js', { type: 'module' });
  progress.value = 0;
  progress.hidden = false;
  return new Promise<Uint8Array>((resolve, reject) => {
    worker.onmessage = ({ data }: MessageEvent<DeriveAnswer>) => {
      if ('progress' in data) progress.value = data.progress;
      else if ('secret' in data) resolve(data.secret);
      else reject(new PageError(`the key could not be derived: ${data.error}`));
    };
    worker.onerror = (event) =>
      reject(new PageError(`the key could not be derived: ${event.message}`));
    worker.postMessage(request);
  }).finally(() => {
    worker.terminate();
    progress.hidden = true;
  });
}

const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');

/** Whether the server holds `verifier` for the room; a wrong password is a PageError. */
async function checkVerifier(room: string, verifier: Uint8Array): Promise<void> {
  const response = await fetch(`/api/rooms/${room}/check`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ verifier: base64(verifier) }),
  });
  if (response.status === 204) return;
  if (response.status === 403)
    throw new WrongPassword(
      'Wrong password: nothing was sent to the room. Check it and try again.',
    );
  const body = (await response.json().catch(() => ({}))) as { error?: unknown };
  throw new PageError(
    typeof body.error === 'string' ? body.error : `the server answered ${response.status}`,
  );
}

/** The room window's elements. */
const win = {
  section: element<HTMLElement>('window'),
  where: element<HTMLSpanElement>('where'),
  connection: element<HTMLSpanElement>('connection'),
  members: element<HTMLSpanElement>('members'),
  fingerprint: element<HTMLElement>('fingerprint'),
  log: element<HTMLOListElement>('log'),
  say: element<HTMLFormElement>('say'),
  line: element<HTMLInputElement>('line'),
};

const HELP = [
  'Type a line and press Enter to send it.',
  '/me waves  says what you do: "* you waves"',
  '/who       who is in the room, each by the key that signed its membership',
  '/help      this help',
  '/quit      leave the room',
  '//text     sends "/text"',
];

/** Lines the conversation keeps: older ones are dropped (a flood cannot exhaust the page). */
const MAX_LOG_LINES = 20_000;
/** The room's last messages the page opens with, from its history (a terminal opens with a screenful). */
const OPENING_LINES = 50;
/** Lines shown so far, the dropped ones too (`#log[data-lines]`). */
let linesShown = 0;
/** Lines made since the last frame: added together, with one layout and one scroll. */
const waiting: HTMLLIElement[] = [];

function flush(): void {
  const atBottom = win.log.scrollTop + win.log.clientHeight >= win.log.scrollHeight - 4;
  const fragment = document.createDocumentFragment();
  fragment.append(...waiting.splice(0));
  win.log.append(fragment);
  const extra = win.log.children.length - MAX_LOG_LINES;
  for (let i = 0; i < extra; i++) win.log.firstElementChild?.remove();
  win.log.dataset.lines = String(linesShown);
  if (atBottom) win.log.scrollTop = win.log.scrollHeight;
}

/** Adds a line to the conversation, as text; scrolls along when the reader is at the bottom. */
function addLine(parts: { text: string; className?: string }[], className?: string): HTMLLIElement {
  const item = document.createElement('li');
  if (className) item.className = className;
  for (const part of parts) {
    const span = document.createElement('span');
    span.textContent = part.text;
    if (part.className) span.className = part.className;
    item.append(span);
  }
  // Frames wait while the tab is hidden: a long wait is added at once, not held.
  if (waiting.length === 0) requestAnimationFrame(flush);
  waiting.push(item);
  if (waiting.length >= 1000) flush();
  linesShown += 1;
  return item;
}

const say = (text: string, className = 'notice'): void => void addLine([{ text }], className);

const clock = (date: Date): string =>
  `${String(date.getHours()).padStart(2, '0')}:${String(date.getMinutes()).padStart(2, '0')} `;

/** A sender as shown, with its trust: the terminal's words (src/terminal/render.ts). */
function who(name: string, view: SenderView): { text: string; className?: string }[] {
  const shown = visibleName(name);
  switch (view.trust) {
    case 'you':
      return [{ text: shown }, { text: ' (you)', className: 'time' }];
    case 'new':
      return [{ text: shown }, { text: ` [key ${view.key}, first seen]`, className: 'new' }];
    case 'changed':
      return [
        { text: `key ${view.key}`, className: 'changed' },
        { text: ` (NOT the ${shown} you know)`, className: 'changed' },
      ];
    default:
      return [{ text: shown }];
  }
}

const NOTICE_WORDS: Record<string, string> = {
  join: 'joined',
  leave: 'left',
  lost: 'timed out',
  end: 'finished sending',
};

/** Members as this page heard them (join and leave notices, lines), name -> how last seen. */
const members = new Map<string, SenderView>();

/** Names the page keeps as heard: a member minting names cannot grow the list without end. */
const MAX_MEMBERS_HEARD = 1000;

function showMembers(): void {
  while (members.size > MAX_MEMBERS_HEARD) members.delete(members.keys().next().value!);
  const names = [...members.keys()].map(visibleName);
  const more = names.length > 20 ? `, and ${names.length - 20} more (/who lists them)` : '';
  win.members.textContent =
    names.length === 0 ? '' : `here: ${names.slice(0, 20).join(', ')}${more}`;
}

/** Lines typed and not yet come round, by message id. */
const pending = new Map<string, HTMLLIElement>();

function render(payload: ChatPayload, how: ShownWith, at: Date): void {
  // A line of the history: its signing time, marked as said earlier (as a terminal shows it).
  const time = {
    text: how.history ? `${clock(new Date(payload.ts ?? at))}${HISTORY_MARK} ` : clock(at),
    className: 'time',
  };
  const marks = [
    ...(how.late ? [' (late)'] : []),
    ...(how.beforeJoin ? [' (before you joined)'] : []),
    ...(how.recovered ? [' (recovered)'] : []),
  ].map((text) => ({ text, className: 'time' }));
  if (payload.type === 'message') {
    if (payload.id !== undefined) {
      pending.get(payload.id)?.remove();
      pending.delete(payload.id);
    }
    if (how.sender.trust !== 'changed') members.set(payload.from, how.sender);
    const text = payload.message.startsWith(ACTION_PREFIX)
      ? { text: ` ${visibleLine(payload.message.slice(ACTION_PREFIX.length))}` }
      : { text: `: ${visibleLine(payload.message)}` };
    const action = payload.message.startsWith(ACTION_PREFIX) ? [{ text: '* ' }] : [];
    addLine(
      [time, ...action, ...who(payload.from, how.sender), text, ...marks],
      how.history ? 'message earlier' : 'message',
    );
  } else {
    const event = payload.event;
    if (how.sender.trust !== 'changed') {
      if (event === 'join') members.set(payload.from, how.sender);
      if (event === 'leave' || event === 'lost') members.delete(payload.from);
    }
    const words =
      how.ownWords === true || event === undefined || event === 'closed'
        ? { text: ` says: ${visibleLine(payload.notice)}` }
        : { text: ` ${NOTICE_WORDS[event]}` };
    addLine([time, ...who(payload.from, how.sender), words, ...marks], 'notice');
  }
  showMembers();
}

let room: PageRoom | undefined;
let membership: PageMembership | undefined;
/** The room's verifier this page derived (it proves the password to `room serve`). */
let roomVerifier: Uint8Array | undefined;
let closedCheck: ReturnType<typeof setInterval> | undefined;

/** The page's state in the window: online, offline (lines wait), left, closed. */
function connectionShown(state: PageStatus): void {
  win.connection.dataset.state = state;
  win.connection.textContent =
    state === 'online'
      ? 'online'
      : state === 'offline'
        ? 'offline: what you type is sent when the broker is back'
        : state === 'connecting'
          ? 'connecting…'
          : 'left';
}

/** Leaves the room (from /quit, a closed room, the page going away). */
async function leaveRoom(state: 'left' | 'closed', line: string): Promise<void> {
  clearInterval(closedCheck);
  const leaving = room;
  room = undefined;
  membership?.leave();
  win.line.disabled = true;
  document.body.dataset.state = state;
  say(line);
  await leaving?.leave();
}

/** Whether the room is still open (its record still served); a closed one ends the window. */
async function checkOpen(record: PublicRecord): Promise<void> {
  const response = await fetch(`/api/rooms/${record.room}`, { cache: 'no-store' }).catch(
    () => undefined,
  );
  if (response?.status === 404)
    await leaveRoom('closed', `Room ${record.room} was closed. Nothing more can be said in it.`);
}

/**
 * /who: the room's members as the registry lists them (through `room serve`), each checked here
 * by the signature its member made and judged against this page's pins, as a terminal's /who
 * does; without the registry's answer, who this page has heard.
 */
async function who_(record: PublicRecord): Promise<void> {
  const response = await fetch(`/api/rooms/${record.room}/who`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ verifier: base64(roomVerifier ?? new Uint8Array()) }),
  }).catch(() => undefined);
  if (response?.status !== 200 || !room) {
    const heard = [...members.entries()];
    say(`the registry did not answer; heard in room ${record.room} (${heard.length}):`);
    for (const [name, view] of heard) addLine([{ text: '  ' }, ...who(name, view)], 'notice');
    return;
  }
  const { members: rows } = (await response.json()) as {
    members: { name: string; key: string | null; signature: string | null; joinedAt: number }[];
  };
  if (rows.length === 0) return say(`nobody is in room ${record.room}`);
  say(`in room ${record.room} (${rows.length}):`);
  for (const row of rows) {
    const joinedAt = new Date(row.joinedAt);
    const key = row.key === null ? undefined : bytes(row.key);
    const signed =
      key !== undefined &&
      row.signature !== null &&
      (await membershipSignedWeb(
        { room: record.room, name: row.name, key, joinedAt },
        bytes(row.signature),
      ));
    const time = { text: `  joined ${clock(joinedAt)} `, className: 'time' };
    if (record.mode === 'plain') addLine([time, { text: visibleName(row.name) }], 'notice');
    else if (!signed)
      addLine(
        [time, { text: visibleName(row.name) }, { text: ' [unverified]', className: 'changed' }],
        'notice',
      );
    else addLine([time, ...who(row.name, room.classify(row.name, key))], 'notice');
  }
}

const bytes = (text: string): Uint8Array => Buffer.from(text, 'base64');

/** What a typed line does: a command, or a line sent to the room. */
function typed(text: string, record: PublicRecord): void {
  if (!room || text.trim() === '') return;
  if (text.startsWith('/') && !text.startsWith('//')) {
    const [command] = text.split(/\s/, 1);
    switch (command) {
      case '/help':
        return HELP.forEach((line) => say(line));
      case '/who':
        return void who_(record);
      case '/quit':
        return void leaveRoom('left', 'You left the room. Reload the page to enter again.');
      case '/me':
        if (text.slice(4).trim() === '') return say('/me needs what you do: /me waves', 'warning');
        break;
      default:
        return say(`unknown command ${visibleLine(command ?? '')}; /help lists them`, 'warning');
    }
  }
  const line = text.startsWith('//') ? text.slice(1) : text;
  const { id, sent } = room.say(line);
  const item = addLine([{ text: `… ${visibleLine(line)}` }], 'pending');
  pending.set(id, item);
  sent.catch((err: unknown) => {
    item.remove();
    pending.delete(id);
    say(`not sent: ${err instanceof Error ? err.message : String(err)}`, 'warning');
  });
}

/** Opens the room window: the room's key, this browser's identity, the broker. */
async function openWindow(
  record: PublicRecord,
  secret: Uint8Array,
  verifier: Uint8Array,
  name: string,
): Promise<void> {
  const { signer, kept } = await pageIdentity();
  const codec =
    record.mode === 'encrypted'
      ? webRoomCodec(await messageKeyWeb(secret, record.room), record.room, signer)
      : webPlainCodec();
  win.where.textContent = `room ${record.room} as ${visibleName(name)}`;
  win.fingerprint.textContent = fingerprint(signer.publicKey);
  roomVerifier = verifier;
  // A member first, as a terminal's listener: its membership also keeps its lines in the history.
  membership = new PageMembership(record.room, name, verifier, signer, (line) =>
    say(line, 'warning'),
  );
  await membership.join();
  const member = membership;
  room = await PageRoom.enter({
    connect: (url, options) => mqtt.connect(url, options),
    url: record.broker,
    room: record.room,
    topic: record.topic,
    name,
    codec,
    signer,
    pins: storageDocument(localStorage, 'pins', record.room),
    seen: storageDocument(localStorage, 'seen', record.room),
    history:
      record.history && record.mode === 'encrypted'
        ? {
            read: pageHistoryReader(record.room, verifier, codec),
            rows: pageHistoryRows(record.room, verifier),
            open: pageRowOpener(codec),
            keep: (rows) => member.keep(rows),
            last: OPENING_LINES,
          }
        : undefined,
    handlers: {
      historyShown: (shown) => {
        if (shown > 0) say(HISTORY_DIVIDER, 'divider');
        // Live lines follow from here (the bench and tests wait for it).
        win.log.dataset.history = 'shown';
      },
      show: render,
      warn: (line) => say(line, 'warning'),
      status: connectionShown,
      closedNotice: () => void checkOpen(record),
    },
  });
  main.hidden = true;
  win.section.hidden = false;
  show('joined', `Joined room ${record.room}.`);
  if (record.mode === 'plain')
    say(
      'This room is plain: anyone on the broker can read it, and names are not verified.',
      'warning',
    );
  if (!kept)
    say('This browser keeps no identity for this page: a new key for this visit.', 'warning');
  say(`You are in room ${record.room} as ${visibleName(name)}. /help lists the commands.`);
  closedCheck = setInterval(() => void checkOpen(record), 15_000);
  win.say.addEventListener('submit', (event) => {
    event.preventDefault();
    const text = win.line.value;
    win.line.value = '';
    typed(text, record);
  });
  win.line.focus();
  window.addEventListener('pagehide', () => {
    membership?.leave();
    void room?.leave();
  });
}

/** The name typed: one a payload may carry, kept for next time. */
function nameTyped(): string {
  const name = nameInput.value.trim();
  const check = checkPayload({ type: 'message', from: name, message: '' });
  if (!check.ok) throw new PageError(`That name cannot be used (${check.reason}).`);
  try {
    localStorage.setItem('sunoye/name', name);
  } catch {
    // Not kept: asked again next time.
  }
  return name;
}

/** The form's submission: record, secret, check, join; each step shown. */
async function enterRoom(): Promise<void> {
  const number = roomInput.value.trim();
  if (!ROOM_NUMBER.test(number)) throw new PageError('A room number is six digits.');
  const name = nameTyped();
  const password = passwordInput.value;
  if (password === '') throw new PageError('Type the room password.');
  show('fetching', `Looking up room ${number}…`);
  const record = await fetchRecord(number);
  show('deriving', 'Deriving the room key from the password…');
  const secret = await deriveSecret({ password, kdf: record.kdf });
  passwordInput.value = '';
  show('checking', 'Checking the password…');
  const verifier = await verifierWeb(secret, number, record.mode);
  await checkVerifier(number, verifier);
  show('connecting', `Connecting to room ${number}…`);
  await openWindow(record, secret, verifier, name).catch((err: unknown) => {
    throw new PageError(
      `the broker at ${record.broker} cannot be reached: ${err instanceof Error ? err.message : String(err)}`,
    );
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  enterRoom().catch((err: unknown) => {
    show(
      err instanceof WrongPassword ? 'refused' : 'error',
      err instanceof Error ? err.message : `Something failed: ${String(err)}`,
    );
  });
});
window.addEventListener('hashchange', roomFromFragment);
roomFromFragment();
nameInput.value = (() => {
  try {
    return localStorage.getItem('sunoye/name') ?? '';
  } catch {
    return '';
  }
})();
show(
  'ready',
  globalThis.crypto?.subtle === undefined
    ? 'This browser gives this page no WebCrypto: open it from localhost or over https.'
    : '',
);
