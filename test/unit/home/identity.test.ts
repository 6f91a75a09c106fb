// The listener's signing identity, kept in SUNOYE_HOME.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { identityPath, loadIdentity } from '../../../src/home/identity.js';

describe('identity', function () {
  let home: string;
  beforeEach(() => (home = mkdtempSync(join(tmpdir(), 'sunoye-identity-'))));
  afterEach(() => rmSync(home, { recursive: true, force: true }));

  it('is made once, kept 0600, and the same on every load', function () {
    const a = loadIdentity(home);
    const b = loadIdentity(home);
    expect(a.fingerprint).to.match(/^[0-9a-f]{4}(-[0-9a-f]{4}){3}$/);
    expect(b.fingerprint).to.equal(a.fingerprint);
    expect(b.signer.publicKey.equals(a.signer.publicKey)).to.equal(true);
    expect(statSync(identityPath(home)).mode & 0o777).to.equal(0o600);
  });
});
