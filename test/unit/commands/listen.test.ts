// `listen --since`: a time span or an ISO 8601 time, with clear refusals naming the flag.
import { expect } from 'chai';
import { parseSince } from '../../../src/commands/listen.js';
import { UsageError } from '../../../src/errors.js';

describe('listen --since', function () {
  const now = Date.parse('2026-12-05T12:00:00Z');

  it('takes spans of seconds, minutes, hours and days, and ISO 8601 times', function () {
    expect(parseSince('10m', now)).to.equal(now - 600_000);
    expect(parseSince('2h', now)).to.equal(now - 7_200_000);
    expect(parseSince('3d', now)).to.equal(now - 3 * 86_400_000);
    expect(parseSince('90s', now)).to.equal(now - 90_000);
    // As `room create --history` takes them.
    expect(parseSince('1h30m', now)).to.equal(now - 5_400_000);
    expect(parseSince('10min', now)).to.equal(now - 600_000);
    expect(parseSince('2026-12-05T09:30:00Z', now)).to.equal(Date.parse('2026-12-05T09:30:00Z'));
    expect(parseSince('2026-12-05T09:30+01:00', now)).to.equal(Date.parse('2026-12-05T08:30:00Z'));
    expect(parseSince('2026-12-04', now)).to.equal(Date.parse('2026-12-04'));
  });

  it('refuses anything else, naming the flag and saying how to write it', function () {
    for (const bad of [
      '',
      '0m',
      '10',
      'm',
      '-5m',
      '1y',
      'yesterday',
      '2026-13-45',
      '2026-12-05T25:00',
    ]) {
      expect(() => parseSince(bad, now), bad).to.throw(UsageError, /^--since takes a time span/);
    }
    // Well written, and further back than any room keeps: said so.
    for (const old of ['400d', '1990-01-01'])
      expect(() => parseSince(old, now), old).to.throw(
        UsageError,
        new RegExp(`^--since ${old} is more than 366 days back: no room keeps history that long$`),
      );
    expect(() => parseSince('2026-12-06T12:00:00Z', now)).to.throw(UsageError, /in the future/);
  });
});
