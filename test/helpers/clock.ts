/** A registry clock that tests move forward instead of waiting for time to pass. */
import type { RegistryClock } from '../../src/db/index.js';

export class TestClock implements RegistryClock {
  private offset = 0;
  /** Added after every reading: operations that run one after another see time pass. */
  step = 0;

  skewMs(): number {
    const now = this.offset;
    this.offset += this.step;
    return now;
  }

  /** Moves the registry's time `ms` forward. */
  advance(ms: number): void {
    this.offset += ms;
  }
}
