// Bounded waits (src/conversation/deadline.ts): every wait has an end, and an answer in time wins.
import { expect } from 'chai';
import { withDeadline, withTimeout } from '../../../src/conversation/deadline.js';

/** A promise that never settles: only a deadline ends a wait on it. */
const never = (): Promise<never> => new Promise<never>(() => undefined);

describe('bounded waits', function () {
  it('gives the answer that comes in time, and never makes the late error', async function () {
    let made = 0;
    const late = (): Error => (made++, new Error('late'));
    expect(await withDeadline(Promise.resolve(42), 60_000, late)).to.equal(42);
    expect(made).to.equal(0);
  });

  it('throws the error `late` makes when the answer does not come within the deadline', async function () {
    const error = await withDeadline(never(), 20, () => new Error('no answer within 20 ms')).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect((error as Error).message).to.equal('no answer within 20 ms');
  });

  it('passes on a failure that comes in time as it is, not as the late error', async function () {
    const failure = new Error('refused');
    const error = await withDeadline(Promise.reject(failure), 60_000, () => new Error('late')).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(error).to.equal(failure);
  });

  it('leaves no timer behind once answered, so a finished program can exit', async function () {
    const handles = (): number =>
      process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length;
    await new Promise((resolve) => setImmediate(resolve)); // mocha's own timer is set by now
    const before = handles();
    for (let i = 0; i < 100; i++) {
      await withDeadline(Promise.resolve(), 60_000, () => new Error('late'));
      await withTimeout(Promise.resolve(), 60_000);
    }
    expect(handles()).to.equal(before);
  });

  it('withTimeout ends at the deadline, and takes a failed or late promise as no error', async function () {
    await withTimeout(never(), 20);
    await withTimeout(Promise.reject(new Error('lost')), 60_000);
    let done = false;
    await withTimeout(
      new Promise((resolve) => setImmediate(resolve)).then(() => (done = true)),
      60_000,
    );
    expect(done).to.equal(true);
  });
});
