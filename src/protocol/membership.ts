/**
 * A membership as its member signs it: "key K joined room R under name N at time T". The
 * registry keeps the signature beside the row, so that whoever reads the row can tell a member
 * who joined with their own key from a row someone wrote into the database.
 */
import { verifySignature, type Signer } from './signing.js';

/** What a membership's signature covers. */
export interface MembershipClaim {
  room: string;
  name: string;
  /** The member's Ed25519 public key. */
  key: Buffer;
  /** When it joined, as the registry's clock said (whole milliseconds). */
  joinedAt: Date;
}

// The domain of these signatures: no signed message or batch starts with it, nor they with it.
const DOMAIN = 'sunoye/v1/membership\n';

/** The bytes signed: the domain, then the claim as a JSON array (one way to write each claim). */
function statement(claim: MembershipClaim): Buffer {
  const fields = [claim.room, claim.key.toString('base64'), claim.name, claim.joinedAt.getTime()];
  return Buffer.from(`${DOMAIN}${JSON.stringify(fields)}`, 'utf8');
}

/** `signer`'s signature of its membership of `room` under `name` since `joinedAt`. */
export function signMembership(
  signer: Signer,
  claim: Omit<MembershipClaim, 'key'>,
): { key: Buffer; signature: Buffer } {
  const key = signer.publicKey;
  return { key, signature: signer.sign(statement({ ...claim, key })) };
}

/** Whether `signature` is the claim's key's signature of the claim; never throws. */
export function membershipSigned(claim: MembershipClaim, signature: Uint8Array): boolean {
  return verifySignature(claim.key, statement(claim), signature);
}
