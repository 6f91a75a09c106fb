// Passwords: generated ones are strong and easy to type, weak ones are refused, sources have an order.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'chai';
import { UsageError } from '../../../src/errors.js';
import {
  GENERATED_BITS,
  generatePassword,
  passwordProblem,
  readPassword,
  type PasswordSources,
} from '../../../src/secrets/password.js';

function sources(
  overrides: Partial<PasswordSources> = {},
): PasswordSources & { stderr: PassThrough } {
  return {
    stdin: Readable.from([]),
    stderr: new PassThrough(),
    ...overrides,
  } as PasswordSources & { stderr: PassThrough };
}

describe('passwords', function () {
  it('generates distinct passwords of about 79 bits without look-alike characters', function () {
    const many = Array.from({ length: 500 }, generatePassword);
    expect(new Set(many).size).to.equal(500);
    for (const p of many) {
      expect(p).to.match(/^[2-9a-hjkmnp-z]{4}(-[2-9a-hjkmnp-z]{4}){3}$/);
      expect(passwordProblem(p)).to.equal(undefined);
    }
    expect(GENERATED_BITS).to.be.at.least(75);
  });

  it('refuses weak passwords with the reason', function () {
    expect(passwordProblem('short1')).to.match(/shorter than 10/);
    expect(passwordProblem('aaaaaaaaaaaa')).to.match(/different characters/);
    expect(passwordProblem('abcdefghijkl')).to.match(/consecutive/);
    expect(passwordProblem('0123456789')).to.match(/consecutive/);
    expect(passwordProblem('8675309142')).to.match(/only digits/);
    expect(passwordProblem('Password123!')).to.match(/common/);
    expect(passwordProblem('qwertyqwerty')).to.match(/common/);
    expect(passwordProblem('correct horse battery staple')).to.equal(undefined);
    expect(passwordProblem('Tr0ub4dor&3x')).to.equal(undefined);
  });

  it('takes the flag (with a warning), then the file, then the environment', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sunoye-pw-'));
    try {
      const file = join(dir, 'pw');
      writeFileSync(file, 'from file\r\nsecond line\n');
      const withFlag = sources({ flag: 'from flag', env: 'from env' });
      expect(await readPassword(withFlag, 'p: ')).to.equal('from flag');
      expect(String(withFlag.stderr.read())).to.match(/process list/);
      expect(await readPassword(sources({ file, env: 'from env' }), 'p: ')).to.equal('from file');
      expect(await readPassword(sources({ env: 'from env' }), 'p: ')).to.equal('from env');
      expect(await readPassword(sources(), 'p: ')).to.equal(undefined);
      const piped = sources({ file: '-', stdin: Readable.from([Buffer.from('piped secret\n')]) });
      expect(await readPassword(piped, 'p: ')).to.equal('piped secret');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses ambiguous, empty and missing sources', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sunoye-pw-'));
    try {
      writeFileSync(join(dir, 'empty'), '\n');
      const cases: [Partial<PasswordSources>, RegExp][] = [
        [{ flag: 'a', file: 'b' }, /either --password or --password-file/],
        [{ file: join(dir, 'empty') }, /is empty/],
        [{ file: join(dir, 'missing') }, /cannot read the password file .*ENOENT/],
        [{ flag: '' }, /--password is empty/],
      ];
      for (const [given, message] of cases) {
        let error: unknown;
        await readPassword(sources(given), 'p: ').catch((err: unknown) => (error = err));
        expect(error).to.be.instanceOf(UsageError);
        expect((error as Error).message).to.match(message);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
