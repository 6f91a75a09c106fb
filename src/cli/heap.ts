/**
 * Memory of the long-running paths (a pipe through `publish`, a busy `listen`).
 *
 * V8 doubles its young generation (up to 16 MB per half) whenever objects keep surviving, which a
 * steady stream of messages always does a little, and then holds tens of megabytes of garbage at
 * a time. Kept at its first size (1 MB per half), the peak memory of `publish` fed 500 MB falls
 * from about 100 MB to 65. The setting is read each time V8 would grow, so setting it while running
 * works as well as on Node's command line (which `node dist/bin/publish.js` leaves to the user).
 *
 * It is not set at every start: loading node:v8 costs a short run like `publish -m` 1.5 ms.
 */

/** Keeps V8's young generation at its first size from now on. */
export function keepYoungGenerationSmall(): void {
  // A compile cache records V8's settings, and V8 refuses one made under others: the launcher
  // (scripts/launcher.ts) saves it now, before they change, if it means to save one.
  const saveCompileCache = (globalThis as Record<symbol, unknown>)[
    Symbol.for('sunoye.saveCompileCache')
  ];
  if (typeof saveCompileCache === 'function') (saveCompileCache as () => void)();
  process.getBuiltinModule('node:v8').setFlagsFromString('--semi-space-growth-factor=1');
}
