/** `room serve`: an MQTT broker inside sunoye (aedes), for one machine or a small LAN. */
import { command } from '../cli/args.js';
import { commandContext } from '../cli/options.js';
import { abortOnSignals } from '../cli/signals.js';
import { ExitCode, SunoyeError, UsageError } from '../errors.js';
import type { CommandContext } from '../room/context.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** Also serve MQTT over WebSocket on this port (0: a free one); none when undefined. */
  wsPort?: number | undefined;
}

/** `room serve`, as the command line declares it. */
export const serveCommand = command(
  {
    name: 'serve',
    describe: 'Run an MQTT broker inside sunoye, for one machine or a small LAN',
    positionals: [],
    options: {
      host: {
        type: 'string',
        default: '127.0.0.1',
        value: 'ADDRESS',
        describe: 'Address to listen on (0.0.0.0: every interface)',
      },
      port: {
        type: 'number',
        default: 1883,
        describe: 'Port to listen on (0: a free one, printed)',
      },
      'ws-port': {
        type: 'number',
        describe: 'Also serve MQTT over WebSocket on this port (0: a free one); none unless given',
      },
    },
  },
  (args, shell) => serve(commandContext({}, shell), args, abortOnSignals(shell.exit)),
);

const isPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65_535;

/** Runs the embedded broker until `signal` aborts; prints its URL(s) on stdout, mqtt:// first. */
export async function serve(
  ctx: CommandContext,
  options: ServeOptions,
  signal: AbortSignal,
): Promise<void> {
  const { host, port, wsPort } = options;
  if (!isPort(port)) throw new UsageError('--port must be from 0 to 65535');
  if (wsPort !== undefined && !isPort(wsPort))
    throw new UsageError('--ws-port must be from 0 to 65535');
  // aedes and ws load only here, not on every start of `room`.
  const { AddressInUseError, startBroker } = await import('../mqtt/broker.js');
  const broker = await startBroker(host, port, wsPort).catch((err: unknown) => {
    if (!(err instanceof AddressInUseError)) throw err;
    throw new SunoyeError(
      err.listener === 'tcp'
        ? `a broker already listens on ${host}:${port}; you do not need room serve (or give another --port)`
        : `something already listens on ${host}:${wsPort}; give another --ws-port (0: a free one)`,
      ExitCode.other,
    );
  });
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
