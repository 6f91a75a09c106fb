/**
 * A headless Chromium for the room page's tests: Debian's own (`apt-get install chromium`),
 * driven by playwright-core, which downloads no browser of its own. Without it the suite is
 * skipped loudly, or fails when SUNOYE_REQUIRE_BROWSER=1 (CI).
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Where Debian's chromium package puts the browser. */
export const CHROMIUM = process.env.SUNOYE_TEST_CHROMIUM ?? '/usr/bin/chromium';

/** Launches a headless Chromium, or skips the calling suite (loudly) when there is none. */
export async function launchBrowser(ctx: Mocha.Context): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    if (process.env.SUNOYE_REQUIRE_BROWSER === '1')
      throw new Error(`SUNOYE_REQUIRE_BROWSER=1 but there is no browser at ${CHROMIUM}`);
    process.stderr.write(
      `\n  !!! SKIPPING browser tests: no ${CHROMIUM} (apt-get install chromium, or set SUNOYE_REQUIRE_BROWSER=1 to fail instead)\n\n`,
    );
    ctx.skip();
  }
  return launchChromium();
}

/** Launches the headless Chromium at CHROMIUM (the tests' and `npm run bench`'s). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
}
