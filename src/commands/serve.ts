/** `room serve`: an MQTT broker inside sunoye (aedes), for one machine or a small LAN. */
import { createServer, type AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { ExitCode, SunoyeError, UsageError } from '../errors.js';
import type { CommandContext } from './context.js';

export interface ServeOptions {
  host: string;
  port: number;
}

/** A running embedded broker. */
export interface EmbeddedBroker {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** Starts the embedded broker on host:port (port 0: a free one). */
export async function startBroker(host: string, port: number): Promise<EmbeddedBroker> {
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError('--port must be from 0 to 65535');
  const broker = await Aedes.createBroker();
  const server = createServer((socket) => broker.handle(socket));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') {
      throw new SunoyeError(
        `a broker already listens on ${host}:${port}; you do not need room serve (or give another --port)`,
        ExitCode.other,
      );
    }
    throw new SunoyeError(
      `cannot listen on ${host}:${port}: ${code ?? String(err)}`,
      ExitCode.other,
    );
  }
  const actual = (server.address() as AddressInfo).port;
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    url: `mqtt://${shownHost}:${actual}`,
    port: actual,
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Runs the embedded broker until `signal` aborts; prints its URL on stdout. */
export async function serve(
  ctx: CommandContext,
  options: ServeOptions,
  signal: AbortSignal,
): Promise<void> {
  const broker = await startBroker(options.host, options.port);
  ctx.io.stdout.write(`${broker.url}\n`);
  ctx.io.stderr.write(
    `sunoye broker listening on ${broker.url} (MQTT 3.1.1); Ctrl-C stops it.\n` +
      `Point sunoye at it with SUNOYE_BROKER=${broker.url} or --broker ${broker.url}.\n`,
  );
  if (!signal.aborted)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await broker.close();
  ctx.io.stderr.write('broker stopped\n');
}
