/**
 * What dist/bin/{room,listen,publish}.js are: a few lines that run the program's bundle
 * (dist/bin/lib/NAME.js) with V8's compiled code kept between runs. Compiling the bundle's
 * functions is a good part of a short run like `publish -m`; from the second run on it is read
 * instead.
 *
 * On Node 22 and later, Node keeps it itself: `module.enableCompileCache` is called with sunoye's
 * cache folder, and the bundle is required (every module loaded after it, the vendor bundles too,
 * is cached by Node). Node's cache holds what V8 compiled as each module loaded, not the functions
 * compiled later, so it saves less than the launcher's own would (about 2 ms of `publish -m`
 * against 5 on Node 24); it is Node's to improve. Node 20 has no such thing, so there the launcher
 * does it: one file per program and build, written at exit when missing or no longer accepted.
 *
 * The cache lives in `$XDG_CACHE_HOME/sunoye` (else `~/.cache/sunoye`). It holds compiled code, so
 * it is used only from a folder that belongs to the user and that nobody else can write to;
 * anything odd (no home, a read-only disk, another owner) means no cache, never an error, and
 * nothing made outside that folder but `.cache` in an existing home.
 * `NODE_DISABLE_COMPILE_CACHE=1` turns it off, as it does Node's own. On Node 20, a program that
 * changes V8's settings first calls `globalThis[Symbol.for('sunoye.saveCompileCache')]`
 * (src/cli/heap.ts). Node's own cache needs no such call for the bundle: Node makes a module's
 * cache when it compiles it, at start (a module first loaded after the settings change is cached
 * under them, and made again by the next run that does not change them).
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
import nodeModule, { createRequire, wrap } from 'node:module';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

declare const SUNOYE_PROGRAM: string;
/** A hash of the bundle: a new build never reads an older build's cache. */
declare const SUNOYE_BUNDLE_HASH: string;
/** The same for each vendor bundle, by the path the bundle requires it with. */
declare const SUNOYE_VENDOR_HASHES: Record<string, string>;

/** `module.enableCompileCache`, which Node 20's types do not know yet. */
type EnableCompileCache = (directory: string) => unknown;

const file = join(__dirname, 'lib', `${SUNOYE_PROGRAM}.js`);
const cacheDir = privateCacheDir();
const { enableCompileCache } = nodeModule as { enableCompileCache?: EnableCompileCache };
if (typeof enableCompileCache === 'function') {
  if (cacheDir) {
    try {
      enableCompileCache(cacheDir);
    } catch {
      // No cache this time.
    }
  }
  createRequire(file)(file);
} else {
  runWithOwnCache(cacheDir);
}

/**
 * Node 20: runs the bundle from V8's compiled code in the cache folder, and saves it if needed.
 * The vendor bundles it requires (MQTT.js, mysql2, …) are run the same way, each with its own
 * cache file: compiling MQTT.js is a good part of `publish -m`.
 */
function runWithOwnCache(dir: string | undefined): void {
  const vendors = new Map<string, unknown>();
  const plainRequire = createRequire(file);
  const bundleRequire = Object.assign((id: string): unknown => {
    const hash = id.startsWith('./vendor/') ? SUNOYE_VENDOR_HASHES[id] : undefined;
    if (!dir || hash === undefined) return plainRequire(id);
    if (!vendors.has(id)) {
      const path = join(dirname(file), id);
      vendors.set(id, runCached(path, dir, `${id.slice('./vendor/'.length)}-${hash}`));
    }
    return vendors.get(id);
  }, plainRequire);
  runCached(file, dir, `${SUNOYE_PROGRAM}-${SUNOYE_BUNDLE_HASH}`, bundleRequire);
}

/**
 * Runs the CommonJS file `path` from V8's compiled code in `dir` (under `key`), saving it at exit
 * when it was missing or not accepted. Returns the file's exports.
 */
function runCached(
  path: string,
  dir: string | undefined,
  key: string,
  require: NodeJS.Require = createRequire(path),
): unknown {
  const cacheFile = dir && join(dir, `${key}-${process.version}-${process.arch}.bin`);
  let cached: Buffer | undefined;
  try {
    if (cacheFile) cached = readFileSync(cacheFile);
  } catch {
    // Not there yet.
  }
  const source = readFileSync(path, 'utf8');
  // The bundle starts with its entry's #! line, which is only valid at the very start of a script.
  const script = new Script(wrap(source.startsWith('#!') ? `//${source}` : source), {
    filename: path,
    cachedData: cached,
  });
  if (cacheFile && (cached === undefined || script.cachedDataRejected === true)) {
    // Saved at the end, so that it holds what this run compiled too; or, by a program about to
    // change V8's settings (which a cache records: V8 would refuse it next time), right before.
    let saved = false;
    const saveOnce = (): void => {
      if (!saved) save(cacheFile, script, key);
      saved = true;
    };
    process.once('exit', saveOnce);
    const saveAll = Symbol.for('sunoye.saveCompileCache');
    const earlier = (globalThis as Record<symbol, (() => void) | undefined>)[saveAll];
    (globalThis as Record<symbol, unknown>)[saveAll] = () => {
      earlier?.();
      saveOnce();
    };
  }
  const module = { exports: {} };
  (script.runInThisContext() as (...args: unknown[]) => void)(
    module.exports,
    require,
    module,
    path,
    dirname(path),
  );
  return module.exports;
}

/**
 * The cache folder if it is usable: ours, and writable by nobody else. Created if missing, and
 * `~/.cache` (or `$XDG_CACHE_HOME`) with it, but never the folder that holds that: a home that
 * does not exist (`HOME=/nonexistent`, as services and sandboxes have) gets no cache, not a home.
 */
function privateCacheDir(): string | undefined {
  if (process.env.NODE_DISABLE_COMPILE_CACHE) return undefined;
  try {
    const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
    const dir = join(base, 'sunoye');
    for (const folder of [base, dir]) {
      try {
        mkdirSync(folder, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    const st = statSync(dir);
    const uid = process.getuid?.();
    if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o022) !== 0)
      return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/** Writes the cache (whole or not at all) and removes the caches of older builds of `key`. */
function save(path: string, compiled: Script, key: string): void {
  try {
    const temporary = `${path}.${process.pid}`;
    writeFileSync(temporary, compiled.createCachedData(), { mode: 0o600 });
    renameSync(temporary, path);
    const dir = dirname(path);
    // `key` is NAME-HASH: other hashes of the same name are older builds.
    const name = key.slice(0, key.lastIndexOf('-') + 1);
    for (const other of readdirSync(dir)) {
      // Other builds under this Node; another Node's caches are that Node's business.
      if (
        other.startsWith(name) &&
        /^[0-9a-f]{16}-/.test(other.slice(name.length)) &&
        other.endsWith(`-${process.version}-${process.arch}.bin`) &&
        join(dir, other) !== path
      )
        unlinkSync(join(dir, other));
    }
  } catch {
    // No cache this time.
  }
}
