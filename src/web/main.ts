/**
 * The room page (`room serve --web`): asks for a room's number and password, derives the room
 * secret in a Worker from the room's public record, and has the server check the verifier before
 * anything goes to the room; with the right password it connects to the room's broker over
 * MQTT-over-WebSocket and subscribes to the room's topic. Nothing from the network is ever set as
 * HTML: every text goes in with textContent.
 *
 * Not yet: sealing and opening messages (see `onJoined`).
 */
import mqtt, { type MqttClient } from 'mqtt';
import type { PublicRecord } from '../http/rooms-api.js';
import { checkKdfParams } from '../protocol/kdf.js';
import { verifierWeb } from '../protocol/web-crypto.js';
import type { DeriveAnswer, DeriveRequest } from './scrypt-worker.js';

/** Where the page is; the tests wait on `body[data-state]`. */
type PageState =
  'ready' | 'fetching' | 'deriving' | 'checking' | 'refused' | 'connecting' | 'joined' | 'error';

const ROOM_NUMBER = /^[1-9][0-9]{5}$/;

const element = <T extends HTMLElement>(id: string): T => {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found as T;
};

const form = element<HTMLFormElement>('join');
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
  const { mode, broker, topic } = body;
  const wellFormed =
    body.room === room &&
    (mode === 'encrypted' || mode === 'plain') &&
    typeof broker === 'string' &&
    /^wss?:\/\//.test(broker) &&
    typeof topic === 'string' &&
    topic.endsWith(`/room/${room}`);
  if (!wellFormed) throw new PageError(`the server's record of room ${room} is malformed`);
  return { room, mode, kdf, broker, topic };
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

const base64 = (bytes: Uint8Array): string => btoa(String.fromCharCode(...bytes));

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

/** Connects to the room's broker and subscribes to its topic; resolves once subscribed. */
function joinRoom(record: PublicRecord): Promise<MqttClient> {
  // MQTT 3.1.1: what every broker speaks, the embedded one included.
  // Native timers: MQTT.js's default makes its keepalive timer a Worker from a blob: URL, which
  // the page's CSP (worker-src 'self') refuses.
  const client = mqtt.connect(record.broker, {
    protocolVersion: 4,
    reconnectPeriod: 2000,
    timerVariant: 'native',
  });
  return new Promise<MqttClient>((resolve, reject) => {
    // Until the first subscription: a failure ends the client; after it, MQTT.js reconnects.
    const onError = (err: Error) => failed(err.message);
    const onClose = () => failed('it closed the connection');
    const failed = (why: string) => {
      client.end(true);
      reject(new PageError(`the broker at ${record.broker} cannot be reached: ${why}`));
    };
    client.once('error', onError);
    client.once('close', onClose);
    client.once('connect', () => {
      client.subscribe(record.topic, { qos: 1 }, (err, granted) => {
        client.off('error', onError);
        client.off('close', onClose);
        const refused = granted?.some((g) => g.qos >= 0x80) ?? true;
        if (err || refused) {
          client.end(true);
          reject(
            new PageError(`the broker refused the room's topic${err ? `: ${err.message}` : ''}`),
          );
        } else resolve(client);
      });
    });
  });
}

/**
 * The room is joined: `client` is subscribed to the room's topic and `secret` is its room secret.
 * Sealing and opening plug in here: the room codec (src/protocol/web-crypto.ts) opens each message
 * of `client.on('message')`, and seals what the page will send with `client.publish`.
 */
function onJoined(client: MqttClient, record: PublicRecord, secret: Uint8Array): void {
  void secret;
  show('joined', `Joined room ${record.room}.`);
  client.on('offline', () => show('connecting', `Reconnecting to room ${record.room}…`));
  client.on('connect', () => show('joined', `Joined room ${record.room}.`));
}

/** The form's submission: record, secret, check, join; each step shown. */
async function enterRoom(): Promise<void> {
  const room = roomInput.value.trim();
  if (!ROOM_NUMBER.test(room)) throw new PageError('A room number is six digits.');
  const password = passwordInput.value;
  if (password === '') throw new PageError('Type the room password.');
  show('fetching', `Looking up room ${room}…`);
  const record = await fetchRecord(room);
  show('deriving', 'Deriving the room key from the password…');
  const secret = await deriveSecret({ password, kdf: record.kdf });
  passwordInput.value = '';
  show('checking', 'Checking the password…');
  await checkVerifier(room, await verifierWeb(secret, room, record.mode));
  show('connecting', `Connecting to room ${room}…`);
  onJoined(await joinRoom(record), record, secret);
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
show(
  'ready',
  globalThis.crypto?.subtle === undefined
    ? 'This browser gives this page no WebCrypto: open it from localhost or over https.'
    : '',
);
