/** Room numbers: six digits, drawn from a CSPRNG. */
import { randomInt } from 'node:crypto';

const MIN = 100_000;
const MAX = 999_999;

/** A random room number (never starting with 0, so it reads and types as six digits). */
export function randomRoomNumber(): string {
  return String(randomInt(MIN, MAX + 1));
}

/** Whether a string is a well-formed room number. */
export function isRoomNumber(value: string): boolean {
  return /^[1-9][0-9]{5}$/.test(value);
}
