/**
 * The embedded MQTT broker (aedes) of `room serve` and of the tests: plain TCP, and optionally
 * MQTT over WebSocket on a listener of its own. It keeps its users apart: aedes announces every
 * client id on `$SYS/` topics, and whoever knows a listener's id can connect under it and take
 * its session (its queued messages, its will), so no client may subscribe to `$` topics and none
 * is delivered to one; and it takes no packet over `MAX_PACKET_BYTES` (see `packet-limit.ts`).
 * The WebSocket listener may also serve a web site (`room serve --web`), which then decides which
 * upgrades go on.
 */
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes, type AedesOptions } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { ExitCode, SunoyeError } from '../errors.js';
import { limitPackets } from './packet-limit.js';

/** A running embedded broker. */
export interface EmbeddedBroker {
  url: string;
  port: number;
  /** With a WebSocket port: the ws:// listener of the same broker. */
  ws?: { url: string; port: number };
  close(): Promise<void>;
}

/** A web site on the WebSocket listener: its plain HTTP requests, and which upgrades it lets in. */
export interface WebSide {
  onRequest(request: IncomingMessage, response: ServerResponse): void;
  /** Whether a WebSocket upgrade may go on; when not, it is answered 403. */
  allowsUpgrade(request: IncomingMessage): boolean;
}

/** Something else already listens on the address one of the broker's listeners asked for. */
export class AddressInUseError extends SunoyeError {
  constructor(
    readonly host: string,
    readonly port: number,
    /** Which listener: MQTT over TCP, or over WebSocket. */
    readonly listener: 'tcp' | 'ws',
  ) {
    super(`something already listens on ${host}:${port}`, ExitCode.other);
  }
}

/** Listens on host:port and returns the port. */
async function listen(
  server: Server,
  host: string,
  port: number,
  listener: 'tcp' | 'ws',
): Promise<number> {
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new AddressInUseError(host, port, listener);
    throw new SunoyeError(
      `cannot listen on ${host}:${port}: ${code ?? String(err)}`,
      ExitCode.other,
    );
  }
  return (server.address() as AddressInfo).port;
}

/**
 * An HTTP server that hands each WebSocket connection to `broker` as an MQTT connection; its
 * other requests go to `site`, or are told to upgrade (426) when there is none.
 */
function webSocketServer(broker: Aedes, site?: WebSide): { server: Server; closeClients(): void } {
  const sockets = new WebSocketServer({ noServer: true });
  const server = createHttpServer(
    site
      ? (request, response) => site.onRequest(request, response)
      : (_request, response) => {
          response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
          response.end(
            'This is an MQTT broker: connect to it over WebSocket with an MQTT client.\n',
          );
        },
  );
  server.on('upgrade', (request, socket, head) => {
    if (site && !site.allowsUpgrade(request)) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    sockets.handleUpgrade(request, socket, head, (ws) =>
      broker.handle(limitPackets(createWebSocketStream(ws)), request),
    );
  });
  return {
    server,
    closeClients: () => {
      for (const ws of sockets.clients) ws.terminate();
      server.closeAllConnections();
    },
  };
}

/**
 * The broker's own topics (`$SYS/…`: its id, every client's id as it connects and leaves, every
 * subscription) are for the broker: a subscription to a `$` topic is refused (MQTT's failure
 * return code), and no `$` topic is delivered to any client.
 */
const ownTopicsKept: Pick<AedesOptions, 'authorizeSubscribe' | 'authorizeForward'> = {
  authorizeSubscribe: (_client, subscription, done) =>
    done(null, subscription.topic.startsWith('$') ? null : subscription),
  authorizeForward: (_client, packet) => (packet.topic.startsWith('$') ? null : packet),
};

/**
 * Starts the embedded broker on host:port (port 0: a free one) and, with `wsPort`, on a WebSocket
 * listener of its own as well, which serves `site` too when given.
 */
export async function startBroker(
  host: string,
  port: number,
  wsPort?: number,
  site?: WebSide,
): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker(ownTopicsKept);
  const tcp = createServer((socket) => broker.handle(limitPackets(socket)));
  const web = wsPort === undefined ? undefined : webSocketServer(broker, site);
  const close = async (): Promise<void> => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    web?.closeClients();
    for (const server of [tcp, web?.server]) {
      if (server?.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  };
  const shownHost = host.includes(':') ? `[${host}]` : host;
  try {
    const actual = await listen(tcp, host, port, 'tcp');
    const started: EmbeddedBroker = { url: `mqtt://${shownHost}:${actual}`, port: actual, close };
    if (web && wsPort !== undefined) {
      const actualWs = await listen(web.server, host, wsPort, 'ws');
      started.ws = { url: `ws://${shownHost}:${actualWs}`, port: actualWs };
    }
    return started;
  } catch (err) {
    await close();
    throw err;
  }
}
