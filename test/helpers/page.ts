/**
 * The room page as the browser tests drive it: a recorder of everything a page sends (requests,
 * WebSocket frames) with its errors, a check that no secret is in any of it in any encoding, and
 * the steps of entering a room through the page's form.
 */
import { expect } from 'chai';
import type { Page } from 'playwright-core';

/** What the page sent: each request (method, URL, headers, body) and each WebSocket frame. */
export interface Traffic {
  requests: string[];
  sockets: string[];
  frames: Buffer[];
  /** Frames the page received. */
  received: Buffer[];
  problems: string[];
}

/** Records everything `page` sends, and its errors, CSP violations and dialogs. */
export function record(page: Page): Traffic {
  const traffic: Traffic = { requests: [], sockets: [], frames: [], received: [], problems: [] };
  page.on('request', (request) => {
    const body = request.postDataBuffer()?.toString('latin1') ?? '';
    traffic.requests.push(
      `${request.method()} ${request.url()}\n${JSON.stringify(request.headers())}\n${body}`,
    );
  });
  page.on('websocket', (socket) => {
    traffic.sockets.push(socket.url());
    socket.on('framesent', ({ payload }) => traffic.frames.push(Buffer.from(payload)));
    socket.on('framereceived', ({ payload }) => traffic.received.push(Buffer.from(payload)));
  });
  page.on('pageerror', (err) => traffic.problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') traffic.problems.push(`console: ${message.text()}`);
  });
  page.on('dialog', (dialog) => {
    traffic.problems.push(`dialog: ${dialog.type()} ${dialog.message()}`);
    void dialog.dismiss();
  });
  return traffic;
}

/** `secret` in every form it could travel in. */
const forms = (secret: Uint8Array | string): string[] => {
  if (typeof secret === 'string') return [secret, encodeURIComponent(secret)];
  const bytes = Buffer.from(secret);
  return [
    bytes.toString('base64'),
    bytes.toString('base64url'),
    bytes.toString('hex'),
    bytes.toString('latin1'),
  ];
};

/** Fails naming where any of `secrets` appears in what the page sent. */
export function expectNowhere(
  traffic: Traffic,
  secrets: Record<string, Uint8Array | string>,
): void {
  const sent = [
    ...traffic.requests.map((text, i) => ({ where: `request ${i}`, text })),
    ...traffic.frames.map((frame, i) => ({ where: `frame ${i}`, text: frame.toString('latin1') })),
  ];
  for (const [name, secret] of Object.entries(secrets))
    for (const form of forms(secret))
      for (const { where, text } of sent)
        expect(text.includes(form), `${name} in ${where}`).to.equal(false);
}

/** Waits until the page's state (body[data-state]) is `state`. */
export const stateIs = (page: Page, state: string) =>
  page.waitForSelector(`body[data-state="${state}"]`, { timeout: 30_000 });

/** Opens the page at `pageUrl` for `room` and enters it as `name` with `password`: joined. */
export async function enterRoom(
  page: Page,
  pageUrl: string,
  room: string,
  name: string,
  password: string,
): Promise<void> {
  await page.goto(`${pageUrl}#${room}`);
  await stateIs(page, 'ready');
  await page.fill('#name', name);
  await page.fill('#password', password);
  await page.click('#enter');
  await stateIs(page, 'joined');
}

/** What the tests read of the page's DOM, in functions run in the page (no DOM types here). */
export interface Dom {
  document: {
    querySelectorAll(selector: string): Iterable<{ textContent: string | null }>;
    getElementById(id: string): { dataset: Record<string, string | undefined> } | null;
  };
}

/** The text typed of each message line of the page's log ("HH:MM alice: text" gives "text"). */
export const messagesIn = (page: Page): Promise<string[]> =>
  page.$$eval('#log li.message', (items: { textContent: string | null }[]) =>
    items.map((item) => {
      const text = item.textContent ?? '';
      return text.slice(text.indexOf(': ') + 2);
    }),
  );

/** Waits until a message line of the page's log ends with `text`; returns that line's text. */
export async function pageShows(page: Page, text: string): Promise<string> {
  // A function, not a string: the page's CSP lets nothing be evaluated from a string.
  const handle = await page.waitForFunction(
    (wanted) =>
      [...(globalThis as unknown as Dom).document.querySelectorAll('#log li.message')]
        .map((li) => li.textContent ?? '')
        .find((line) => line.endsWith(`: ${wanted}`) || line.endsWith(` ${wanted}`)),
    text,
    { timeout: 30_000 },
  );
  return (await handle.jsonValue()) as string;
}

/** Types `text` into the page's line and sends it with Enter. */
export async function sendLine(page: Page, text: string): Promise<void> {
  await page.fill('#line', text);
  await page.press('#line', 'Enter');
}
