// Loaded by mocha before every test file (.mocharc.json `require`), as a root hook plugin.
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

export const mochaHooks = {
  afterAll(): void {
    const leaked = secretsLeaked();
    if (leaked.length > 0) {
      throw new Error(
        `${leaked.length} secret${leaked.length === 1 ? '' : 's'} given to the programs appeared in their output: ${leaked.map((s) => `${s.slice(0, 2)}… (${s.length} characters)`).join(', ')}`,
      );
    }
  },
};
