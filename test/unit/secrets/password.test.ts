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
  passwordReadings,
  readPassword,
  wrongPasswordAdvice,
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
  it('generates distinct passwords of about 79 bits without look-alike characters', async function () {
    const many = Array.from({ length: 500 }, generatePassword);
    expect(new Set(many).size).to.equal(500);
    for (const p of many) expect(p).to.match(/^[2-9a-hjkmnp-z]{4}(-[2-9a-hjkmnp-z]{4}){3}$/);
    expect(GENERATED_BITS).to.be.at.least(75);
    // The estimator agrees (checked on some: each check takes 10-80 ms).
    for (const p of many.slice(0, 25)) expect(await passwordProblem(p), p).to.equal(undefined);
  });

  it('refuses weak passwords by the estimate, with its reasons', async function () {
    const weak: [string, RegExp][] = [
      ['P@ssw0rd!!', /similar to a commonly used password; .*predictable letter substitutions/],
      ['Summer2024!', /add more words that are less common/],
      ['1q2w3e4r5t', /this is a commonly used password/],
      ['1234567890ab', /similar to a commonly used password/],
      ['password1', /commonly used password/],
      ['aaaaaaaaaaaa', /repeated characters like "aaa"/],
      ['abcdefghijkl', /common character sequences/],
      ['qwertyqwerty', /repeated character patterns/],
      ['short1', /about 10\^\d guesses/],
      // 10^13-10^15 by the dictionaries alone, but made of the app's and the user's own words.
      ['SunoyeMqttChat', /about 10\^\d guesses/],
      ['alicesunoye99', /about 10\^\d guesses/],
    ];
    for (const [password, reason] of weak) {
      const problem = await passwordProblem(password, ['alice']);
      expect(problem, password).to.match(
        /^about 10\^\d guesses would find it, and a room password needs 10\^10/,
      );
      expect(problem, password).to.match(reason);
    }
    for (const strong of [
      'Zebra-Quill-Harbor-9182',
      'Trombone-Velvet-7',
      'violet anchor mango tulip 8842',
      'Glimmer_Portal_Fennel_Oxbow',
      'Xq7#mP2vL9!tR4wZ8kB3nD6hJ1sF5g',
    ])
      expect(await passwordProblem(strong, ['alice']), strong).to.equal(undefined);
  });

  it('refuses famous passwords and phrases, spaced, separated, capitalised or in l33t', async function () {
    const phrase = /this is a well-known phrase or password: crackers try those first/;
    const famous: [string, RegExp][] = [
      ['Tr0ub4dor&3', phrase],
      ['tr0ub4dor&3', phrase],
      ['Tr0ub4dor&3x', phrase],
      ['correct horse battery staple', phrase],
      ['CorrectHorseBatteryStaple', phrase],
      ['correct.horse.battery.staple', phrase],
      ['Correct Horse-Battery_Staple', phrase],
      ['maytheforcebewithyou', phrase],
      ['MAY THE FORCE BE WITH YOU', phrase],
      ['m4y th3 f0rc3 b3 w1th y0u', /well-known phrase.*predictable letter substitutions/],
      ['thequickbrownfoxjumpsoverthelazydog', phrase],
      ['TheQuickBrownFoxJumpsOverTheLazyDog', phrase],
      ['The quick brown fox jumps over the lazy dog.', phrase],
      ["Don't stop believin'", phrase],
      // Shifted keyboard walks: 1qaz2wsx3edc4rfv is in the common passwords list.
      ['!QAZ@WSX#EDC$RFV', /commonly used password; .*holding Shift for some keys/],
      ['!qaz@wsx#edc$rfv', /commonly used password; .*holding Shift for some keys/],
      ['!QAZ-@WSX-#EDC-$RFV', /commonly used password; .*holding Shift for some keys/],
    ];
    for (const [password, reason] of famous) {
      const problem = await passwordProblem(password, ['alice']);
      expect(problem, password).to.match(
        /^about 10\^\d guesses would find it, and a room password needs 10\^10/,
      );
      expect(problem, password).to.match(reason);
    }
  });

  it('reads a generated password typed in capitals as the generated one, then as typed', function () {
    for (const p of Array.from({ length: 50 }, generatePassword)) {
      expect(passwordReadings(p)).to.deep.equal([p]);
      expect(passwordReadings(p.toUpperCase())).to.deep.equal([p, p.toUpperCase()]);
      const mixed = p.charAt(0).toUpperCase() + p.slice(1);
      if (mixed !== p) expect(passwordReadings(mixed)).to.deep.equal([p, mixed]);
    }
    // Anything else is only itself: no other rule changes (case, spaces, look-alikes, groups).
    for (const other of [
      'Zebra-Quill-Harbor-9182',
      ' K7MP-X3QA-9TZE-WH2C',
      'K7MP-X3QA-9TZE-WH2C\n',
      'K7MP-X3QA-9TZE-WH2',
      'K7MP-X3QA-9TZE-WH2C-ABCD',
      'K7MP-X3QA-9TZE-WHIC', // I is no letter of the generated passwords
      'K7MP_X3QA_9TZE_WH2C',
      'K7MP-X3QA-9TZE-WH2\u212A', // the Kelvin sign, whose lower case is k
    ])
      expect(passwordReadings(other), JSON.stringify(other)).to.deep.equal([other]);
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

  it('says of a refused password where it came from and what to check', function () {
    const typical =
      'passwords are case-sensitive, except generated ones, which may be typed in capitals';
    expect(wrongPasswordAdvice(sources(), 'hunter2', 3)).to.equal(
      `typed 3 times; check it with whoever shared the room (${typical})`,
    );
    expect(wrongPasswordAdvice(sources({ file: '/tmp/pw' }), ' hunter2', 1)).to.equal(
      `from the first line of /tmp/pw, which begins or ends with a space; check it with whoever shared the room (${typical})`,
    );
    expect(
      wrongPasswordAdvice(sources({ env: 'K7MP-X3QA-9TZE-WH2D' }), 'K7MP-X3QA-9TZE-WH2D', 1),
    ).to.equal(
      'from SUNOYE_PASSWORD; check it with whoever shared the room (it was tried as given and in lower case)',
    );
    // The password itself is never in the advice.
    expect(wrongPasswordAdvice(sources({ flag: 'hunter2' }), 'hunter2', 1)).to.not.include(
      'hunter2',
    );
  });

  it('refuses ambiguous, empty and missing sources', async function () {
    const dir = mkdtempSync(join(tmpdir(), 'sunoye-pw-'));
    try {
      writeFileSync(join(dir, 'empty'), '\n');
      const cases: [Partial<PasswordSources>, RegExp][] = [
        [{ flag: 'a', file: 'b' }, /either --password or --password-file/],
        [{ file: join(dir, 'empty') }, /is empty/],
        [{ file: join(dir, 'missing') }, /cannot read the password file .*missing: no such file$/],
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
