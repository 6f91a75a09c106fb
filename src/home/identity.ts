/**
 * This user's identity: an Ed25519 key pair made on first use and kept in
 * `$SUNOYE_HOME/identity.json`, readable by the user only. Every sealed message is signed with
 * it; its fingerprint (`room whoami`) is what other members compare out of band.
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, SunoyeError } from '../errors.js';
import { fingerprint, newKeyPair, signerOf, type Signer } from '../protocol/index.js';
import { checkPrivate } from './remembered.js';

/** This user's signer and the fingerprint of its public key. */
export interface Identity {
  signer: Signer;
  fingerprint: string;
  /** Where the key pair is kept. */
  path: string;
}

const FORMAT = 1;

/** The path of the identity file in `home`. */
export function identityPath(home: string): string {
  return join(home, 'identity.json');
}

function broken(path: string, why: string): SunoyeError {
  return new SunoyeError(
    `${path} ${why}; move it away to make a new identity (others will then see you under a new key)`,
    ExitCode.other,
  );
}

function read(path: string): Identity {
  checkPrivate(path, 'consider making a new identity');
  let value: { format?: unknown; x?: unknown; d?: unknown };
  try {
    value = JSON.parse(readFileSync(path, 'utf8')) as typeof value;
  } catch {
    throw broken(path, 'is not a sunoye identity (not JSON)');
  }
  if (value?.format !== FORMAT || typeof value.x !== 'string' || typeof value.d !== 'string')
    throw broken(path, 'is not a sunoye identity');
  let signer: Signer;
  try {
    signer = signerOf({ x: value.x, d: value.d });
  } catch {
    throw broken(path, 'holds no valid Ed25519 key pair');
  }
  return { signer, fingerprint: fingerprint(signer.publicKey), path };
}

/** Loads this user's identity, making it on first use (safely when several programs start at once). */
export function loadIdentity(home: string): Identity {
  const path = identityPath(home);
  try {
    return read(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const pair = newKeyPair();
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(
    temp,
    `${JSON.stringify({ format: FORMAT, ...pair, createdAt: new Date().toISOString() }, null, 2)}\n`,
    { mode: 0o600, flag: 'wx' },
  );
  try {
    chmodSync(temp, 0o600);
    // A hard link never replaces: of two programs making an identity at once, one wins.
    linkSync(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    unlinkSync(temp);
  }
  return read(path);
}
