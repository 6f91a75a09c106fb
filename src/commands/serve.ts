/**
 * `room serve`: an MQTT broker inside sunoye (aedes), for one machine or a small LAN; with `--web`
 * its WebSocket listener also serves the room page and the rooms API it needs (src/http).
 */
import { command } from '../cli/args.js';
import { commandContext, commonOptions } from '../cli/options.js';
import { abortOnSignals } from '../cli/signals.js';
import { ExitCode, SunoyeError, UsageError } from '../errors.js';
import type { WebSide } from '../mqtt/broker.js';
import { openRegistry, type CommandContext } from '../room/context.js';

export interface ServeOptions {
  host: string;
  port: number;
  /** Also serve MQTT over WebSocket on this port (0: a free one); none when undefined. */
  wsPort?: number | undefined;
  /** Also serve the room page on the WebSocket port (a free one when `wsPort` is undefined). */
  web?: boolean | undefined;
  /** With `web`: the MQTT-over-WebSocket URL the page connects to instead of this broker. */
  webBroker?: string | undefined;
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
      web: {
        type: 'boolean',
        default: false,
        describe:
          'Also serve the room page (http://HOST:WS-PORT/) and the rooms API on the --ws-port listener (a free port when --ws-port is not given); rooms come from --db',
      },
      'web-broker': {
        type: 'string',
        value: 'URL',
        describe:
          "With --web: the page connects to this MQTT-over-WebSocket broker (ws:// or wss://) instead of this one's --ws-port",
      },
      db: commonOptions.db,
    },
  },
  (args, shell) => serve(commandContext({ db: args.db }, shell), args, abortOnSignals(shell.exit)),
);

const isPort = (port: number): boolean => Number.isInteger(port) && port >= 0 && port <= 65_535;

/** Runs the embedded broker until `signal` aborts; prints its URL(s) on stdout, mqtt:// first. */
export async function serve(
  ctx: CommandContext,
  options: ServeOptions,
  signal: AbortSignal,
): Promise<void> {
  const { host, port, web } = options;
  const wsPort = options.wsPort ?? (web ? 0 : undefined);
  if (!isPort(port)) throw new UsageError('--port must be from 0 to 65535');
  if (wsPort !== undefined && !isPort(wsPort))
    throw new UsageError('--ws-port must be from 0 to 65535');
  if (options.webBroker !== undefined && !web) throw new UsageError('--web-broker goes with --web');
  const webBroker = options.webBroker === undefined ? undefined : webBrokerUrl(options.webBroker);
  // The page's files first: a checkout built without them says so before anything starts.
  const page = web ? (await import('../http/assets.js')).loadPage() : undefined;
  const store = page ? await openRegistry(ctx) : undefined;
  try {
    let site: WebSide | undefined;
    let members: { leaveAll(): Promise<void> } | undefined;
    if (page && store) {
      const [{ isLoopback, webSite }, { FailureLimiter }, { PageMembers }] = await Promise.all([
        import('../http/site.js'),
        import('../http/rate-limit.js'),
        import('../http/members-api.js'),
      ]);
      site = webSite({
        page,
        store,
        webBroker,
        topicPrefix: ctx.config.topicPrefix,
        loopback: isLoopback(host),
        limiter: new FailureLimiter(),
        members: (members = new PageMembers(store, ctx.config.lease)),
        log: (line) => ctx.io.stderr.write(`${line}\n`),
      });
    }
    try {
      await runBroker(ctx, { host, port, wsPort }, signal, site);
    } finally {
      await members?.leaveAll();
    }
  } finally {
    await store?.close();
  }
}

/**
 * The `--web-broker` URL as the page gets it and the Content-Security-Policy names it: ws:// or
 * wss://, with no credentials, query or fragment, and nothing that could end a CSP source.
 */
function webBrokerUrl(text: string): string {
  const refused = new UsageError(
    // The URL is not repeated: it may hold a password.
    '--web-broker must be a ws:// or wss:// URL with no user, password, query or fragment (like ws://chat.example:9001/mqtt)',
  );
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw refused;
  }
  const plain = url.username === '' && url.password === '' && url.search === '' && url.hash === '';
  if (!['ws:', 'wss:'].includes(url.protocol) || !plain || /[\s;,'"]/.test(url.href)) throw refused;
  return url.href;
}

/** Runs the broker, serving `web` too when given, until `signal` aborts. */
async function runBroker(
  ctx: CommandContext,
  { host, port, wsPort }: { host: string; port: number; wsPort: number | undefined },
  signal: AbortSignal,
  web: WebSide | undefined,
): Promise<void> {
  // aedes and ws load only here, not on every start of `room`.
  const { AddressInUseError, startBroker } = await import('../mqtt/broker.js');
  const broker = await startBroker(host, port, wsPort, web).catch((err: unknown) => {
    if (!(err instanceof AddressInUseError)) throw err;
    throw new SunoyeError(
      err.listener === 'tcp'
        ? `a broker already listens on ${host}:${port}; you do not need room serve (or give another --port)`
        : `something already listens on ${host}:${wsPort}; give another --ws-port (0: a free one)`,
      ExitCode.other,
    );
  });
  const urls = [broker.url, ...(broker.ws ? [broker.ws.url] : [])];
  const pageUrl = web && broker.ws ? broker.ws.url.replace(/^ws:/, 'http:') + '/' : undefined;
  ctx.io.stdout.write([...urls, ...(pageUrl ? [pageUrl] : [])].map((url) => `${url}\n`).join(''));
  ctx.io.stderr.write(
    `sunoye broker listening on ${urls.join(' and ')} (MQTT 3.1.1); Ctrl-C stops it.\n` +
      `Point sunoye at it with SUNOYE_BROKER=${broker.url} or --broker ${broker.url}.\n` +
      (pageUrl
        ? `The room page is at ${pageUrl} (a browser has the WebCrypto it needs only from localhost or https).\n`
        : ''),
  );
  if (!signal.aborted)
    await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
  await broker.close();
  ctx.io.stderr.write('broker stopped\n');
}
