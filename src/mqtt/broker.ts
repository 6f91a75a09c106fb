/**
 * The embedded MQTT broker (aedes) of `room serve` and of the tests: plain TCP, and optionally
 * MQTT over WebSocket on a listener of its own.
 */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { ExitCode, SunoyeError } from '../errors.js';

/** A running embedded broker. */
export interface EmbeddedBroker {
  url: string;
  port: number;
  /** With a WebSocket port: the ws:// listener of the same broker. */
  ws?: { url: string; port: number };
  close(): Promise<void>;
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

/** An HTTP server that hands each WebSocket connection to `broker` as an MQTT connection. */
function webSocketServer(broker: Aedes): { server: Server; closeClients(): void } {
  const sockets = new WebSocketServer({ noServer: true });
  const server = createHttpServer((_request, response) => {
    response.writeHead(426, { 'content-type': 'text/plain', upgrade: 'websocket' });
    response.end('This is an MQTT broker: connect to it over WebSocket with an MQTT client.\n');
  });
  server.on('upgrade', (request, socket, head) =>
    sockets.handleUpgrade(request, socket, head, (ws) =>
      broker.handle(createWebSocketStream(ws), request),
    ),
  );
  return {
    server,
    closeClients: () => {
      for (const ws of sockets.clients) ws.terminate();
      server.closeAllConnections();
    },
  };
}

/**
 * Starts the embedded broker on host:port (port 0: a free one) and, with `wsPort`, on a WebSocket
 * listener of its own as well.
 */
export async function startBroker(
  host: string,
  port: number,
  wsPort?: number,
): Promise<EmbeddedBroker> {
  const broker = await Aedes.createBroker();
  const tcp = createServer((socket) => broker.handle(socket));
  const web = wsPort === undefined ? undefined : webSocketServer(broker);
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
