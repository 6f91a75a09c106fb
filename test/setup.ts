// Loaded by mocha before every test file (.mocharc.json `require`), as a root hook plugin.
import { readdirSync, readFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { secretsGiven, transcript } from './helpers/cli.js';

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
 * After every suite, whatever ran and in whatever order: no password, key or database-URL
 * password that the tests gave any program ever appeared in anything a program printed.
 */
export function secretsLeaked(): string[] {
  const all = transcript.join('\n');
  return [...secretsGiven].filter((secret) => secret.length >= 6 && all.includes(secret));
}

/** The compiled tests (dist/test), this file's folder. */
const distTest = dirname(fileURLToPath(import.meta.url));

/**
 * The names the suite's temporary folders begin with: every `sunoye-…-` string in the compiled
 * tests (the prefixes their mkdtemp calls and fixtures use). Only these are watched in the temp
 * folder, which other work on the machine shares.
 */
export function suitePrefixes(dir = distTest): string[] {
  const prefixes = new Set<string>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) suitePrefixes(path).forEach((p) => prefixes.add(p));
    else if (entry.name.endsWith('.js'))
      for (const m of readFileSync(path, 'utf8').matchAll(/['"`](sunoye-[a-z0-9-]*-)['"`]/g))
        prefixes.add(m[1]!);
  }
  return [...prefixes];
}

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
 * Where a run could leave something on the machine: the top two levels of the home, sunoye's own
 * folders in it (cache, settings, data), and the suite's folders in the temp folder.
 */
export function machineListing(prefixes: string[], builds: Set<string>): Set<string> {
  const home = homedir();
  const cache = join(home, '.cache', 'sunoye');
  return new Set([
    ...entries(home, 2),
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
    ...entries(tmpdir(), 1).filter((path) => {
      const name = path.slice(tmpdir().length + 1);
      return prefixes.some((prefix) => name.startsWith(prefix));
    }),
  ]);
}

/** The paths in `after` that were not in `before`, sorted. */
export function leftBehind(before: Set<string>, after: Set<string>): string[] {
  return [...after].filter((path) => !before.has(path)).sort();
}

let before: Set<string> | undefined;
let prefixes: string[] = [];
let builds = new Set<string>();

export const mochaHooks = {
  beforeAll(): void {
    prefixes = suitePrefixes();
    builds = buildHashes();
    before = machineListing(prefixes, builds);
  },
  afterAll(): void {
    const left = before ? leftBehind(before, machineListing(prefixes, builds)) : [];
    if (left.length > 0) {
      throw new Error(
        `the run left ${left.length} new path${left.length === 1 ? '' : 's'} in the home or temp folder (a program run without a home of its own, or a temporary folder not removed):\n  ${left.join('\n  ')}`,
      );
    }
    const leaked = secretsLeaked();
    if (leaked.length > 0) {
      throw new Error(
        `${leaked.length} secret${leaked.length === 1 ? '' : 's'} given to the programs appeared in their output: ${leaked.map((s) => `${s.slice(0, 2)}… (${s.length} characters)`).join(', ')}`,
      );
    }
  },
};
