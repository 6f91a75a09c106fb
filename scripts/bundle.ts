/**
 * Bundles each program (dist/bin/{room,listen,publish}.js) into one file plus shared chunks, so a
 * start reads a few files instead of hundreds. Code reached through `import()` (the MySQL driver,
 * the embedded broker, each command) stays in chunks of its own and loads only when used.
 * Run by `npm run build` after tsc, which still compiles everything for the tests.
 */
import { build } from 'esbuild';
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const out = `${root}dist/bin`;

rmSync(`${out}/chunks`, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['bin/room.ts', 'bin/listen.ts', 'bin/publish.ts'],
  outdir: out,
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  sourcemap: true,
  legalComments: 'linked',
  // A native addon is loaded from node_modules as it is.
  external: ['better-sqlite3'],
  // Bundled CommonJS packages call require(); give the ESM output one.
  banner: {
    js: "import { createRequire as __sunoyeRequire } from 'node:module'; const require = __sunoyeRequire(import.meta.url);",
  },
  logLevel: 'warning',
});
