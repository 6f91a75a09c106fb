/**
 * `room serve --web` as the tests start it (on free ports, with a registry of their own), and
 * plain HTTP requests to it whose every byte the test chooses: the path as written (no
 * normalising of `..`), the headers, no automatic decompression.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { startProgram, type RunningProgram } from './programs.js';
import { waitFor } from './wait.js';

/** A running `room serve --web` and the URLs it printed. */
export interface WebServe {
  program: RunningProgram;
  mqttUrl: string;
  wsUrl: string;
  /** The page's URL, `http://127.0.0.1:PORT/`. */
  pageUrl: string;
}

/** Starts `room serve --port 0 --web ARGS` (added to `running`) and waits for its three URLs. */
export async function startWebServe(
  env: Record<string, string>,
  running: RunningProgram[],
  args: string[] = [],
): Promise<WebServe> {
  const program = startProgram('room', ['serve', '--port', '0', '--web', ...args], env);
  running.push(program);
  await program.line('the page URL', (l) => l.startsWith('http://'));
  const [mqttUrl, wsUrl, pageUrl] = program.stdoutLines as [string, string, string];
  return { program, mqttUrl, wsUrl, pageUrl };
}

/** An HTTP answer, its body as received (gzipped if it was sent so). */
export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Sends one request to `base` (an http:// URL) for `path` exactly as given. */
export function httpTo(
  base: string,
  path: string,
  options: { method?: string; headers?: Record<string, string>; body?: string | Buffer } = {},
): Promise<HttpAnswer> {
  const { hostname, port } = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: hostname, port, path, method: options.method ?? 'GET', headers: options.headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.once('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks),
          }),
        );
        res.once('error', reject);
      },
    );
    req.once('error', reject);
    req.end(options.body);
  });
}

/** The JSON of an answer's body. */
export function jsonOf(answer: HttpAnswer): Record<string, unknown> {
  return JSON.parse(answer.body.toString('utf8')) as Record<string, unknown>;
}

/** Waits until `program`'s stderr includes `text`. */
export function stderrSays(program: RunningProgram, text: string): Promise<boolean> {
  return waitFor(`stderr to say ${JSON.stringify(text)}`, () => program.stderr().includes(text), {
    program,
  });
}
