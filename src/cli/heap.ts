/**
 * Memory of the long-running paths (a pipe through `publish`, a busy `listen`).
 *
 * V8 doubles its young generation (up to 16 MB per half) whenever objects keep surviving, which a
 * steady stream of messages always does a little, and then holds tens of megabytes of garbage at
 * a time. Kept at its first size (1 MB per half), the peak memory of `publish` fed 500 MB falls
 * from about 100 MB to 65.
 *
 * What survives it (long lines in flight, a pipe's chunks) lands in the old generation, which V8
 * lets grow to up to four times what is alive before it collects: about 30 MB of dead 32 KiB lines
 * when `publish` keeps a pipe's history. Grown by a quarter at most, it holds about 10, for five
 * more full collections of a small heap (a few milliseconds each) per 50,000 lines.
 *
 * Both settings are read each time V8 would grow, so setting them while running works as well as
 * on Node's command line (which `node dist/bin/publish.js` leaves to the user). They are not set
 * at every start: loading node:v8 costs a short run like `publish -m` 1.5 ms.
 */

/** Keeps V8's young generation at its first size, and its old one near what is alive. */
export function keepHeapSmall(): void {
  // A compile cache records V8's settings, and V8 refuses one made under others: the launcher
  // (scripts/launcher.ts) saves it now, before they change, if it means to save one.
  const saveCompileCache = (globalThis as Record<symbol, unknown>)[
    Symbol.for('sunoye.saveCompileCache')
  ];
  if (typeof saveCompileCache === 'function') (saveCompileCache as () => void)();
  process
    .getBuiltinModule('node:v8')
    .setFlagsFromString('--semi-space-growth-factor=1 --heap-growing-percent=25');
}
