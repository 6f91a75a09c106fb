/**
 * What dist/bin/{room,listen,publish}.js are: a few lines that run the program's bundle
 * (dist/bin/lib/NAME.js) with V8's compiled code kept between runs, as Node 22 does with
 * `module.enableCompileCache()` and Node 20 cannot. Compiling the bundle's functions is a good
 * part of a short run like `publish -m`; from the second run on it is read instead.
 *
 * The cache is one file per program and build in `$XDG_CACHE_HOME/sunoye` (else `~/.cache/sunoye`),
 * written when missing or no longer accepted by this Node. It holds compiled code, so it is used
 * only from a folder that belongs to the user and that nobody else can write to; anything odd
 * (no home, a read-only disk, another owner) means no cache, never an error.
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off, as it does Node's own. A program that changes
 * V8's settings first calls `globalThis[Symbol.for('sunoye.saveCompileCache')]` (src/cli/heap.ts).
 *
 * Built by scripts/bundle.ts once per program, with these two names defined.
 */
import {
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

declare const SUNOYE_PROGRAM: string;
/** A hash of the bundle: a new build never reads an older build's cache. */
declare const SUNOYE_BUNDLE_HASH: string;

const file = join(__dirname, 'lib', `${SUNOYE_PROGRAM}.js`);
const cacheDir = privateCacheDir();
const cacheFile =
  cacheDir &&
  join(cacheDir, `${SUNOYE_PROGRAM}-${SUNOYE_BUNDLE_HASH}-${process.version}-${process.arch}.bin`);
let cached: Buffer | undefined;
try {
  if (cacheFile) cached = readFileSync(cacheFile);
} catch {
  // Not there yet.
}
const source = readFileSync(file, 'utf8');
// The bundle starts with its entry's #! line, which is only valid at the very start of a script.
const script = new Script(wrap(source.startsWith('#!') ? `//${source}` : source), {
  filename: file,
  cachedData: cached,
});
if (cacheFile && (cached === undefined || script.cachedDataRejected === true)) {
  // Saved at the end, so that it holds what this run compiled too; or, by a program about to
  // change V8's settings (which a cache records: V8 would refuse it next time), right before.
  let saved = false;
  const saveOnce = (): void => {
    if (!saved) save(cacheFile, script);
    saved = true;
  };
  process.once('exit', saveOnce);
  (globalThis as Record<symbol, unknown>)[Symbol.for('sunoye.saveCompileCache')] = saveOnce;
}
const bundle = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(
  bundle.exports,
  createRequire(file),
  bundle,
  file,
  dirname(file),
);

/** The cache folder if it is usable: ours, and writable by nobody else. Created if missing. */
function privateCacheDir(): string | undefined {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  try {
    const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
    const dir = join(base, 'sunoye');
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const st = statSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
      return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/** Writes the cache (whole or not at all) and removes this program's caches of older builds. */
function save(path: string, compiled: Script): void {
  try {
    const temporary = `${path}.${process.pid}`;
    writeFileSync(temporary, compiled.createCachedData(), { mode: 0o600 });
    renameSync(temporary, path);
    const dir = dirname(path);
    for (const name of readdirSync(dir)) {
      // Other builds under this Node; another Node's caches are that Node's business.
      if (
        name.startsWith(`${SUNOYE_PROGRAM}-`) &&
        name.endsWith(`-${process.version}-${process.arch}.bin`) &&
        join(dir, name) !== path
      )
        unlinkSync(join(dir, name));
    }
  } catch {
    // No cache this time.
  }
}
