// Loaded by mocha before every test file (.mocharc.json `require`), as a root hook plugin.
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { homesInUse, secretsGiven, transcript, type Output } from './helpers/cli.js';

// The developer's own sunoye settings must not leak in.
for (const name of Object.keys(process.env)) {
  if (
    name.startsWith('SUNOYE_') &&
    !name.startsWith('SUNOYE_TEST_') &&
    !name.startsWith('SUNOYE_REQUIRE_')
  ) {
    delete process.env[name];
  }
}

/**
 * The run's own temporary folder, made before any test file loads: every `tmpdir()` of the tests
 * and every program they start (test/helpers/cli.ts `testEnv` passes TMPDIR on) makes its folders
 * in here, so what is left in it at the end was left by this run, whatever other checkouts on the
 * machine run at the same time. A short name under the machine's temp folder (`/tmp/sunoye-run-
 * XXXXXX`) keeps the unix sockets made below it (tmux's) under their 107-byte limit. Other users
 * may pass through it (not list it): the tests run programs as other users in folders of theirs.
 */
export const runTmp = mkdtempSync(join(tmpdir(), 'sunoye-run-'));
chmodSync(runTmp, 0o711);
process.env.TMPDIR = runTmp;
// However the run ends, its folder goes (the check below names what was left in it first).
process.once('exit', () => rmSync(runTmp, { recursive: true, force: true }));

/**
 * Secrets shorter than this are not looked for. The tests give short and wrong passwords on
 * purpose (`x`, `abc`, `pw`, to check that they are refused), and a few characters turn up in any
 * output by chance (in a room number, a word, a time); a run of 6 characters the programs were
 * given does not, and every real password or key of the tests is longer (a generated one is 19).
 */
export const MIN_SECRET_LENGTH = 6;

/** `s` as a failure may name it: its first two characters and its length, never all of it. */
const described = (s: string): string => `${s.slice(0, 2)}… (${s.length} characters)`;

/** `text` with every secret in it masked (a run's arguments may hold one: `--password …`). */
function masked(text: string): string {
  const secrets = [...secretsGiven].filter((s) => s.length >= MIN_SECRET_LENGTH);
  secrets.sort((a, b) => b.length - a.length);
  return secrets.reduce((t, s) => t.split(s).join(described(s)), text);
}

/**
 * The secrets given to any program that appear in `outputs`, each with the first run that
 * printed it (named with the secrets in its arguments masked).
 */
export function secretsLeaked(outputs: Output[] = transcript): string[] {
  return [...secretsGiven]
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
    .flatMap((secret) => {
      const run = outputs.find((output) => output.text.includes(secret));
      return run ? [`${described(secret)}, printed by \`${masked(run.what).slice(0, 160)}\``] : [];
    });
}

/** How much of the transcript the last check read. */
let checked = 0;

/** Fails naming `where` and each secret a program printed since the last check. */
function checkSecrets(where: string): void {
  const outputs = transcript.slice(checked);
  checked = transcript.length;
  homesInUse.clear(); // the next suite's homes are its own
  const leaked = secretsLeaked(outputs);
  if (leaked.length > 0) {
    throw new Error(
      `${where}: ${leaked.length} secret${leaked.length === 1 ? '' : 's'} given to the programs appeared in their output:\n  ${leaked.join('\n  ')}`,
    );
  }
}

/** The compiled tests (dist/test), this file's folder. */
const distTest = dirname(fileURLToPath(import.meta.url));

/** The hashes of this build's bundles (dist/bin), which name the compiled code they cache. */
export function buildHashes(): Set<string> {
  const bin = join(distTest, '..', 'bin');
  const hashes = new Set<string>();
  for (const name of readdirSync(bin).filter((n) => n.endsWith('.js')))
    for (const m of readFileSync(join(bin, name), 'utf8').matchAll(/"([0-9a-f]{16})"/g))
      hashes.add(m[1]!);
  return hashes;
}

/** `dir`'s entries, and theirs down to `depth` levels; nothing for a folder that is not there. */
function entries(dir: string, depth: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names.flatMap((name) => {
    const path = join(dir, name);
    return depth > 1 ? [path, ...entries(path, depth - 1)] : [path];
  });
}

/**
 * Where a run could leave something in the home: sunoye's own folders in it (cache, settings,
 * data), where a program run without a home of its own writes. The rest of the home is left to
 * other tools (npm's cache, a shell's history, ssh's known hosts), which other work on the
 * machine writes while the tests run.
 */
export function homeListing(builds: Set<string>): Set<string> {
  const home = homedir();
  const cache = join(home, '.cache', 'sunoye');
  return new Set([
    // Compiled code cached by the programs: a file of another build, or of another Node, is
    // another checkout's (other work on this machine runs the programs too).
    ...entries(cache, 2).filter((path) => {
      const name = path.slice(cache.length);
      if (!name.includes(process.version)) return false;
      const hash = /-([0-9a-f]{16})-v[0-9.]+-[^/]*\.bin$/.exec(name)?.[1];
      return hash === undefined || builds.has(hash);
    }),
    ...[join(home, '.config', 'sunoye'), join(home, '.local', 'share', 'sunoye')].flatMap(
      (folder) => entries(folder, 2),
    ),
  ]);
}

/** The paths in `after` that were not in `before`, sorted. */
export function leftBehind(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter((path) => !before.has(path)).sort();
}

let homeBefore: Set<string> | undefined;
let builds = new Set<string>();

export const mochaHooks = {
  beforeAll(this: Mocha.Context): void {
    builds = buildHashes();
    homeBefore = homeListing(builds);
    // After every top-level suite (each test file's), the secret check, so that a leak is named
    // where it happened. Added last, it runs after the suite's own `after` hooks have stopped
    // its programs (whose output is recorded as they end).
    for (const suite of this.test?.parent?.suites ?? []) {
      suite.afterAll('no secret given to a program appeared in any output', function () {
        checkSecrets(`"${suite.title}" (${suite.file ?? 'no file'})`);
      });
    }
  },
  afterAll(): void {
    const left = [
      ...(homeBefore ? leftBehind(homeBefore, homeListing(builds)) : []),
      // Node 22 and later keep npm's compiled code in TMPDIR/node-compile-cache (npm enables
      // Node's compile cache without naming a folder): Node's own, not a test's leftover.
      ...entries(runTmp, 1).filter((path) => path !== join(runTmp, 'node-compile-cache')),
    ];
    const failures: string[] = [];
    try {
      rmSync(runTmp, { recursive: true, force: true, maxRetries: 5 });
    } catch (err) {
      // Something still running writes in it: a program the tests did not wait for.
      failures.push(`the run's temporary folder could not be removed: ${(err as Error).message}`);
    }
    if (left.length > 0) {
      failures.push(
        `the run left ${left.length} new path${left.length === 1 ? '' : 's'} in the home or in its temporary folder (a program run without a home of its own, or a temporary folder not removed):\n  ${left.join('\n  ')}`,
      );
    }
    try {
      checkSecrets('the run'); // whatever ran outside the top-level suites
    } catch (err) {
      failures.push((err as Error).message);
    }
    if (failures.length > 0) throw new Error(failures.join('\n'));
  },
};
