/**
 * npm's `prepare`: builds the programs (`npm run build`). It runs after `npm ci` and `npm install`
 * in a clone, and also on `npm install -g .`, which links the clone into the global folder and
 * installs none of its dependencies: in a fresh clone the build would then find no esbuild or
 * tsc, and the programs no better-sqlite3. So a clone without them gets `npm ci` first (which runs
 * this again, to build), with the dev dependencies whatever npm's settings omit, and in the clone
 * rather than the global folder the outer command is installing to.
 *
 * Plain JavaScript: it runs before anything is compiled.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const needed = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
const missing = needed.filter(
  (name) => !existsSync(join(root, 'node_modules', name, 'package.json')),
);
// Set for the `npm ci` below: if that leaves some out, installing again would not help.
const AGAIN = 'SUNOYE_PREPARE_INSTALLED';

/** Runs npm (the one running this script) with `args` in the clone; exits if it fails. */
function npm(args, env = process.env) {
  const [command, first] = process.env.npm_execpath
    ? [process.execPath, [process.env.npm_execpath]]
    : ['npm', []];
  const run = spawnSync(command, [...first, ...args], {
    cwd: root,
    env,
    stdio: 'inherit',
    shell: !process.env.npm_execpath && process.platform === 'win32',
  });
  if (run.status !== 0) process.exit(run.status ?? 1);
}

if (missing.length === 0) {
  npm(['run', 'build']);
} else if (process.env[AGAIN]) {
  console.error(
    `sunoye: the build needs ${missing.join(', ')}, and \`npm ci\` did not install them; run \`npm ci --include=dev\` in ${root}`,
  );
  process.exit(1);
} else {
  console.error(
    `sunoye: installing the dependencies first (${missing.length} of ${needed.length} missing): npm ci in ${root}`,
  );
  // Not the global install's settings: this installs into the clone.
  const env = { ...process.env, [AGAIN]: '1' };
  for (const name of [
    'npm_config_global',
    'npm_config_location',
    'npm_config_prefix',
    'npm_config_global_prefix',
    'npm_config_local_prefix',
    'npm_config_globalconfig',
  ])
    delete env[name];
  npm(['ci', '--include=dev', '--no-audit', '--no-fund'], env);
}
