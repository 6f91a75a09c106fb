// Listener client ids remembered per terminal and room: reused only when they are as random as
// sunoye makes them, since whoever knows a listener's id can take its session on the broker.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { claimListenerId } from '../../../src/home/listener-ids.js';
import { randomClientId } from '../../../src/mqtt/connection.js';

describe('listener client ids', function () {
  let home: string;
  beforeEach(function () {
    home = mkdtempSync(join(tmpdir(), 'sunoye-ids-'));
  });
  afterEach(function () {
    rmSync(home, { recursive: true, force: true });
  });

  const claim = (fresh: () => string) =>
    claimListenerId(home, 'sqlite:/x.db', '482913', '/dev/pts/4', fresh);

  it('are 64 random bits, and a remembered one is reused in the same terminal', function () {
    const ids = new Set(Array.from({ length: 1000 }, () => randomClientId('l')));
    expect(ids.size).to.equal(1000);
    for (const id of ids) expect(id).to.match(/^sunoyel[0-9a-f]{16}$/);
    const first = claim(() => randomClientId('l'));
    first.release();
    const again = claim(() => randomClientId('l'));
    expect(again.id).to.equal(first.id);
    again.release();
  });

  it('replace a remembered id that sunoye did not make (a guessable one) with a fresh one', function () {
    claim(() => 'aaaaaaaa').release();
    const fresh = randomClientId('l');
    const claimed = claim(() => fresh);
    expect(claimed.id).to.equal(fresh);
    claimed.release();
  });
});
