/** `room serve`: an MQTT broker inside sunoye (aedes), for one machine or a small LAN. */
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { ExitCode, SunoyeError, UsageError } from '../errors.js';
import type { CommandContext } from '../chat/context.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** Also serve MQTT over WebSocket on this port (0: a free one); none when undefined. */
  wsPort?: number | undefined;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  url: string;
  port: number;
  /** With a WebSocket port: the ws:// listener of the same broker. */
  ws?: { url: string; port: number };
  close(): Promise<void>;
}

const isPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65_535;

/** Listens on host:port and returns the port; a taken port is the `taken` message (exit 1). */
async function listen(server: Server, host: string, port: number, taken: string): Promise<number> {
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
    if (code === 'EADDRINUSE') throw new SunoyeError(taken, ExitCode.other);
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
  if (!isPort(port)) throw new UsageError('--port must be from 0 to 65535');
  if (wsPort !== undefined && !isPort(wsPort))
    throw new UsageError('--ws-port must be from 0 to 65535');
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
    const actual = await listen(
      tcp,
      host,
      port,
      `a broker already listens on ${host}:${port}; you do not need room serve (or give another --port)`,
    );
    const started: EmbeddedBroker = { url: `mqtt://${shownHost}:${actual}`, port: actual, close };
    if (web && wsPort !== undefined) {
      const actualWs = await listen(
        web.server,
        host,
        wsPort,
        `something already listens on ${host}:${wsPort}; give another --ws-port (0: a free one)`,
      );
      started.ws = { url: `ws://${shownHost}:${actualWs}`, port: actualWs };
    }
    return started;
  } catch (err) {
    await close();
    throw err;
  }
}

/** Runs the embedded broker until `signal` aborts; prints its URL(s) on stdout, mqtt:// first. */
export async function serve(
  ctx: CommandContext,
  options: ServeOptions,
  signal: AbortSignal,
): Promise<void> {
  const broker = await startBroker(options.host, options.port, options.wsPort);
  const urls = [broker.url, ...(broker.ws ? [broker.ws.url] : [])];
  ctx.io.stdout.write(urls.map((url) => `${url}\n`).join(''));
  ctx.io.stderr.write(
    `sunoye broker listening on ${urls.join(' and ')} (MQTT 3.1.1); Ctrl-C stops it.\n` +
      `Point sunoye at it with SUNOYE_BROKER=${broker.url} or --broker ${broker.url}.\n`,
  );
  if (!signal.aborted)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await broker.close();
  ctx.io.stderr.write('broker stopped\n');
}
