/** Small formatting helpers for human output. */

/** A duration in words: 600 -> "10 min", 90 -> "90 s", 7200 -> "2 h". */
export function formatDuration(seconds: number): string {
  if (seconds % 86_400 === 0 && seconds >= 2 * 86_400) return `${seconds / 86_400} d`;
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0 && seconds >= 120) return `${seconds / 60} min`;
  return `${seconds} s`;
}

const SECONDS_PER_UNIT: Readonly<Record<string, number>> = {
  s: 1,
  sec: 1,
  m: 60,
  min: 60,
  h: 3600,
  d: 86_400,
};

/**
 * A duration as people write it: `30m`, `90s`, `24h`, `7d` (also `1h30m`); `0` alone is zero.
 * Undefined for anything else (a bare number other than 0 says no unit, so it is not guessed).
 */
export function parseDuration(text: string): number | undefined {
  const value = text.trim().toLowerCase();
  if (/^0+$/.test(value)) return 0;
  if (!/^(\d{1,9}\s*(?:s|sec|m|min|h|d)\s*)+$/.test(value)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of value.matchAll(/(\d+)\s*(sec|min|s|m|h|d)/g))
    seconds += Number(amount) * SECONDS_PER_UNIT[unit!]!;
  return seconds;
}

const BYTES_PER_UNIT: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  k: 2 ** 10,
  kib: 2 ** 10,
  m: 2 ** 20,
  mib: 2 ** 20,
  g: 2 ** 30,
  gib: 2 ** 30,
};

/**
 * A size as people write it: `64MiB`, `512KiB`, `1.5GiB`, `64M` (units of 1024), or bytes.
 * Undefined for anything else (`64MB` too: whether it means 10^6 or 2^20 is left unguessed).
 */
export function parseSize(text: string): number | undefined {
  const match = /^(\d{1,12}(?:\.\d{1,6})?)\s*([a-z]*)$/.exec(text.trim().toLowerCase());
  if (!match || !Object.hasOwn(BYTES_PER_UNIT, match[2]!)) return undefined;
  return Math.floor(Number(match[1]) * BYTES_PER_UNIT[match[2]!]!);
}

/** A size in words: 67108864 -> "64 MiB", 1536 -> "1.5 KiB", 200 -> "200 B". */
export function formatBytes(bytes: number): string {
  for (const [unit, size] of [
    ['GiB', 2 ** 30],
    ['MiB', 2 ** 20],
    ['KiB', 2 ** 10],
  ] as const) {
    if (bytes >= size) {
      const amount = bytes / size;
      return `${Number.isInteger(amount) ? amount : amount.toFixed(1)} ${unit}`;
    }
  }
  return `${bytes} B`;
}
