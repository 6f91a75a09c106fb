/**
 * The web side of `room serve --web`, on its WebSocket listener: the page's files from a fixed
 * list, the rooms API (`rooms-api.ts`), and the rule that a browser may open a WebSocket to the
 * broker only from this page. Every response carries a strict Content-Security-Policy and the
 * headers that keep the page out of other sites' frames, windows and reads.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebSide } from '../mqtt/broker.js';
import type { Asset } from './assets.js';
import {
  checkVerifier,
  historyRows,
  joinMember,
  publicRecord,
  whoIsIn,
  type Reply,
  type RoomsApi,
} from './rooms-api.js';

/** The largest body a check may have. */
export const MAX_CHECK_BYTES = 1024;
/** The largest batch of a page's lines for the room's history. */
export const MAX_KEEP_BYTES = 8 * 2 ** 20;

/** What the site serves. */
export interface SiteOptions extends RoomsApi {
  page: ReadonlyMap<string, Asset>;
  /**
   * The MQTT-over-WebSocket URL the page connects to (`--web-broker`); undefined: this listener,
   * at ws://<the Host the page came from>/mqtt.
   */
  webBroker?: string | undefined;
  /**
   * Whether the listener is on a loopback address: it then answers only requests that name a
   * loopback host, so that a site whose name is made to resolve to 127.0.0.1 (DNS rebinding)
   * cannot pass for this page's origin.
   */
  loopback: boolean;
}

/** A Host header that can only name a host and port (so it is safe in a header and a URL). */
const HOST = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;

/** Names of the loopback host in a Host header. */
const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Whether a listener's address is a loopback one. */
export function isLoopback(address: string): boolean {
  return ['localhost', '::1', '[::1]'].includes(address) || /^127\.\d+\.\d+\.\d+$/.test(address);
}

/** The Content-Security-Policy of every response: this origin's files, and one broker. */
export function contentSecurityPolicy(broker: string | undefined): string {
  return [
    "default-src 'none'",
    "script-src 'self'",
    "worker-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    `connect-src 'self'${broker === undefined ? '' : ` ${broker}`}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
  ].join('; ');
}

const API_ROOM = /^\/api\/rooms\/([1-9][0-9]{5})(\/check|\/members|\/who|\/history)?$/;
const API_MEMBER = /^\/api\/members\/([0-9a-f]{32})\/(heartbeat|leave|history)$/;

/** The site of `options`, for the broker's WebSocket listener. */
export function webSite(options: SiteOptions): WebSide {
  const brokerFor = (host: string | undefined): string | undefined =>
    options.webBroker ?? (host === undefined ? undefined : `ws://${host}/mqtt`);
  /** The request's Host, when it is well-formed and names this server. */
  const hostOf = (request: IncomingMessage): string | undefined => {
    const host = request.headers.host;
    if (host === undefined || !HOST.test(host)) return undefined;
    const name = host.replace(/:\d+$/, '').toLowerCase();
    return !options.loopback || LOOPBACK_NAMES.has(name) ? host : undefined;
  };
  const sameOrigin = (request: IncomingMessage): boolean => {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    const host = hostOf(request);
    return host !== undefined && origin === `http://${host}`;
  };

  const respond = (
    request: IncomingMessage,
    response: ServerResponse,
    status: number,
    headers: Record<string, string>,
    body?: Buffer,
  ): void => {
    response.writeHead(status, {
      'content-security-policy': contentSecurityPolicy(brokerFor(hostOf(request))),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cross-origin-opener-policy': 'same-origin',
      'cross-origin-resource-policy': 'same-origin',
      ...(body === undefined ? {} : { 'content-length': String(body.length) }),
      ...headers,
    });
    response.end(request.method === 'HEAD' ? undefined : body);
  };
  const reply = (request: IncomingMessage, response: ServerResponse, answer: Reply): void => {
    const body =
      answer.json === undefined ? undefined : Buffer.from(`${JSON.stringify(answer.json)}\n`);
    respond(
      request,
      response,
      answer.status,
      {
        'cache-control': 'no-store',
        ...(body === undefined ? {} : { 'content-type': 'application/json; charset=utf-8' }),
        ...answer.headers,
      },
      body,
    );
  };
  const error = (
    request: IncomingMessage,
    response: ServerResponse,
    status: number,
    text: string,
  ) => reply(request, response, { status, json: { error: text } });
  const notAllowed = (request: IncomingMessage, response: ServerResponse, allow: string) =>
    reply(request, response, {
      status: 405,
      headers: { allow },
      json: { error: `only ${allow} here` },
    });

  const serveFile = (request: IncomingMessage, response: ServerResponse, asset: Asset): void => {
    const gzip = /\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''));
    respond(
      request,
      response,
      200,
      {
        'content-type': asset.type,
        'cache-control': 'no-cache',
        vary: 'accept-encoding',
        ...(gzip ? { 'content-encoding': 'gzip' } : {}),
      },
      gzip ? asset.gzip : asset.plain,
    );
  };

  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const host = hostOf(request);
    if (host === undefined)
      return error(request, response, 400, 'a Host header that names this server is needed');
    const method = request.method ?? '';
    const path = (request.url ?? '').split('?')[0]!;
    const read = method === 'GET' || method === 'HEAD';
    const asset = options.page.get(path);
    if (asset)
      return read
        ? serveFile(request, response, asset)
        : notAllowed(request, response, 'GET, HEAD');
    const api = API_ROOM.exec(path);
    const member = API_MEMBER.exec(path);
    if (!api && !member)
      return error(request, response, read || method === 'POST' ? 404 : 405, 'not found');
    const room = api?.[1];
    if (room !== undefined && api?.[2] === undefined) {
      if (!read) return notAllowed(request, response, 'GET, HEAD');
      return reply(request, response, await publicRecord(options, room, brokerFor(host)!));
    }
    if (method !== 'POST') return notAllowed(request, response, 'POST');
    if (!sameOrigin(request)) return error(request, response, 403, 'not from this page');
    if (!/^application\/json\b/.test(request.headers['content-type'] ?? ''))
      return error(request, response, 415, 'expected application/json');
    // A page's lines for the history come in batches; every other body is a few fields.
    const max = member?.[2] === 'history' ? MAX_KEEP_BYTES : MAX_CHECK_BYTES;
    const body = await readBody(request, max);
    if (body === undefined) {
      response.shouldKeepAlive = false;
      return error(request, response, 413, `the body may be at most ${max} bytes`);
    }
    const address = request.socket.remoteAddress ?? 'unknown';
    if (member)
      return reply(
        request,
        response,
        member[2] === 'heartbeat'
          ? await options.members.heartbeat(member[1]!)
          : member[2] === 'history'
            ? await options.members.keep(member[1]!, body)
            : await options.members.leave(member[1]!),
      );
    const answer =
      api?.[2] === '/members'
        ? await joinMember(options, room!, body, address)
        : api?.[2] === '/who'
          ? await whoIsIn(options, room!, body, address)
          : api?.[2] === '/history'
            ? await historyRows(options, room!, body, address)
            : await checkVerifier(options, room!, body, address);
    return reply(request, response, answer);
  };

  return {
    onRequest: (request, response) => {
      handle(request, response).catch((err: unknown) => {
        options.log(`web request ${request.method} ${request.url} failed: ${String(err)}`);
        if (!response.headersSent) error(request, response, 500, 'the server failed');
        else response.destroy();
      });
    },
    allowsUpgrade: sameOrigin,
  };
}

/** The request's body as text, or undefined when it is longer than `max` bytes. */
function readBody(request: IncomingMessage, max: number): Promise<string | undefined> {
  if (Number(request.headers['content-length'] ?? 0) > max) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        request.removeAllListeners('data');
        request.pause();
        resolve(undefined);
      } else chunks.push(chunk);
    });
    request.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.once('error', reject);
  });
}
