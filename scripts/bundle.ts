/**
 * Builds the programs into dist/bin:
 * - dist/bin/lib/{room,listen,publish}.js: each program in one CommonJS file holding all of
 *   sunoye's own code. Modules reached through `import()` (the broker connection, the embedded
 *   broker) become functions run on first use, so their code, and the vendor bundles they
 *   require, cost only a quick pre-parse when they are not used.
 * - dist/bin/lib/vendor/*.cjs: each large dependency in a file of its own, required only on the
 *   path that uses it (MQTT.js by the programs that connect to the broker, its WebSocket transport
 *   for ws:// and wss:// only, mysql2 for a MySQL registry, aedes and ws by `room serve`, the
 *   zxcvbn-ts password estimator and its dictionaries by `room create` given a password).
 * - dist/bin/{room,listen,publish}.js: the launchers (scripts/launcher.ts) that run a bundle with
 *   V8's compiled code cached between runs.
 *
 * - dist/web: the room page `room serve --web` serves (src/http/assets.ts lists its files): its
 *   HTML, its stylesheet and icon, and two ES modules for a browser, the page and its scrypt Worker.
 *
 * A start then reads three or four files and runs no ES module loader: this is what keeps
 * `publish -m` within twice the start of Node itself. Run by `npm run build` after tsc, which
 * still compiles everything for the tests.
 */
import { build, type Plugin } from 'esbuild';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = `${root}dist/bin`;
const webOut = `${root}dist/web`;
const PROGRAMS = ['room', 'listen', 'publish'];

/**
 * Large dependencies, each bundled on its own: the package the programs import, its file under
 * dist/bin/lib, and what the file exports when that is less than the whole package.
 */
const VENDOR: Record<string, { file: string; exports?: string }> = {
  // The client class only: its transports are sunoye's own sockets or the ws bundle below, and
  // MQTT.js's `connect()` (with every transport, a URL parser and the stores) is not used.
  mqtt: { file: 'vendor/mqtt.cjs', exports: `{ MqttClient: require('mqtt/lib/client').default }` },
  'mqtt/lib/connect/ws': { file: 'vendor/mqtt-ws.cjs' },
  'mysql2/promise': { file: 'vendor/mysql2.cjs' },
  aedes: { file: 'vendor/aedes.cjs' },
  ws: { file: 'vendor/ws.cjs' },
  // The password strength estimator and its dictionaries (1.5 MB), for `room create --password`.
  '@zxcvbn-ts/core': { file: 'vendor/zxcvbn-core.cjs' },
  '@zxcvbn-ts/language-common': { file: 'vendor/zxcvbn-common.cjs' },
  '@zxcvbn-ts/language-en': { file: 'vendor/zxcvbn-en.cjs' },
};

/**
 * MQTT.js and its packet codec are written on `readable-stream`, a copy of Node's own streams
 * for browsers and old Nodes, and log through `debug`. In the programs' bundles Node's `stream`
 * stands in for the copy, and logging is off: loading MQTT.js takes 9.5 ms instead of 20.
 */
const NODE_ONLY_ALIASES = { 'readable-stream': 'node:stream' };
const debugOffPlugin: Plugin = {
  name: 'debug-off',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, () => ({ path: 'debug', namespace: 'debug-off' }));
    b.onLoad({ filter: /.*/, namespace: 'debug-off' }, () => ({
      contents:
        'module.exports = function debug() { const log = () => {}; log.enabled = false; return log; };',
      loader: 'js',
    }));
  },
};

const common = {
  absWorkingDir: root,
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  minify: true,
  logLevel: 'warning',
} as const;

/** Points the programs' imports of a vendor package at its bundle, required at run time. */
const vendorPlugin: Plugin = {
  name: 'vendor',
  setup(b) {
    const names = Object.keys(VENDOR).map((n) => n.replaceAll('/', '\\/'));
    b.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) => ({
      path: `./${VENDOR[args.path]!.file}`,
      external: true,
    }));
  },
};

/**
 * Makes the programs' imports of `name` load it only when `shim` first needs it: each import gets
 * the small module `shim(path)` writes, which requires the real one (at `path`, which esbuild then
 * wraps to run on first require) from inside whatever it exports.
 */
function lazyPlugin(name: string, shim: (path: string) => string[]): Plugin {
  const namespace = `lazy-${name}`;
  return {
    name: namespace,
    setup(b) {
      b.onResolve({ filter: new RegExp(`^${name}$`) }, async (args) => {
        if (args.pluginData === 'lazy') return undefined;
        const real = await b.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: 'lazy',
        });
        if (real.errors.length > 0) return { errors: real.errors };
        return { path: real.path, namespace };
      });
      b.onLoad({ filter: /.*/, namespace }, (args) => ({
        contents: shim(JSON.stringify(args.path)).join('\n'),
        resolveDir: root,
        loader: 'js',
      }));
    },
  };
}

/**
 * `string-width` loads on its first call. yargs (through cliui and wrap-ansi) imports it at start,
 * and its Unicode regular expressions and Intl.Segmenter cost about 25 ms; it is needed only to
 * lay out help.
 */
const lazyStringWidthPlugin = lazyPlugin('string-width', (path) => [
  'let real;',
  'export default function stringWidth(text, options) {',
  `  real ??= require(${path});`,
  '  return (real.default ?? real)(text, options);',
  '}',
]);

/**
 * chalk loads when a colour is first asked for (`new Chalk(...)`): an error line, `room info`, a
 * listener's output. `publish -m` and every other run that prints no colour then skip its start
 * (its styles and terminal detection), about 2 ms.
 */
const lazyChalkPlugin = lazyPlugin('chalk', (path) => [
  'let real;',
  'export class Chalk {',
  '  constructor(options) {',
  `    real ??= require(${path});`,
  '    return new real.Chalk(options);',
  '  }',
  '}',
]);

rmSync(webOut, { recursive: true, force: true });
mkdirSync(webOut, { recursive: true });
for (const file of ['index.html', 'favicon.svg'])
  copyFileSync(`${root}src/web/${file}`, `${webOut}/${file}`);
rmSync(`${out}/chunks`, { recursive: true, force: true });
rmSync(`${out}/vendor`, { recursive: true, force: true });
rmSync(`${out}/lib`, { recursive: true, force: true });
mkdirSync(`${out}/lib/vendor`, { recursive: true });
// The programs are CommonJS files named .js (package.json's bin names them).
writeFileSync(`${out}/package.json`, '{ "type": "commonjs" }\n');

await Promise.all([
  ...Object.entries(VENDOR).map(([name, { file, exports }]) =>
    build({
      ...common,
      sourcemap: true,
      legalComments: 'linked',
      stdin: {
        contents: `module.exports = ${exports ?? `require(${JSON.stringify(name)})`};`,
        resolveDir: root,
      },
      outfile: `${out}/lib/${file}`,
      ...(name.startsWith('mqtt') ? { alias: NODE_ONLY_ALIASES, plugins: [debugOffPlugin] } : {}),
    }),
  ),
  // The room page: MQTT.js's browser build (the `browser` condition picks mqtt/dist/mqtt.esm.js),
  // and the `buffer` package as the global Buffer that the modules shared with the programs use.
  build({
    absWorkingDir: root,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: ['chrome111', 'firefox111', 'safari16.4'],
    minify: true,
    logLevel: 'warning',
    entryPoints: ['src/web/main.ts', 'src/web/scrypt-worker.ts', 'src/web/style.css'],
    inject: ['src/web/buffer.ts'],
    outdir: webOut,
  }),
  build({
    ...common,
    sourcemap: true,
    legalComments: 'linked',
    entryPoints: PROGRAMS.map((p) => `bin/${p}.ts`),
    outdir: `${out}/lib`,
    // better-sqlite3's JavaScript is bundled; its addon is loaded by path (src/db/sqlite.ts).
    external: ['bindings'],
    plugins: [vendorPlugin, lazyStringWidthPlugin, lazyChalkPlugin],
    // The code's few uses of import.meta.url (finding files next to it) get the bundle's own.
    define: { 'import.meta.url': '__sunoyeUrl' },
    banner: { js: 'var __sunoyeUrl = require("node:url").pathToFileURL(__filename).href;' },
  }),
]);

const hashOf = (path: string): string =>
  createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
const vendorHashes = Object.fromEntries(
  Object.values(VENDOR).map(({ file }) => [`./${file}`, hashOf(`${out}/lib/${file}`)]),
);
await Promise.all(
  PROGRAMS.map((program) => {
    const hash = hashOf(`${out}/lib/${program}.js`);
    return build({
      ...common,
      entryPoints: ['scripts/launcher.ts'],
      outfile: `${out}/${program}.js`,
      banner: { js: '#!/usr/bin/env node' },
      define: {
        SUNOYE_PROGRAM: JSON.stringify(program),
        SUNOYE_BUNDLE_HASH: JSON.stringify(hash),
        SUNOYE_VENDOR_HASHES: JSON.stringify(vendorHashes),
      },
    });
  }),
);
