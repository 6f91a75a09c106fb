/**
 * A membership as its member signs it: "key K joined room R under name N at time T". The
 * registry keeps the signature beside the row, so that whoever reads the row can tell a member
 * who joined with their own key from a row someone wrote into the database.
 */
import { claimStatement, type MembershipClaim } from './claim.js';
import { verifySignature, type Signer } from './signing.js';

export type { MembershipClaim } from './claim.js';

/** `signer`'s signature of its membership of `room` under `name` since `joinedAt`. */
export function signMembership(
  signer: Signer,
  claim: Omit<MembershipClaim, 'key'>,
): { key: Buffer; signature: Buffer } {
  const key = signer.publicKey;
  return { key, signature: signer.sign(claimStatement({ ...claim, key })) };
}

/** Whether `signature` is the claim's key's signature of the claim; never throws. */
export function membershipSigned(claim: MembershipClaim, signature: Uint8Array): boolean {
  const { key } = claim;
  const raw = Buffer.from(key.buffer, key.byteOffset, key.byteLength);
  return verifySignature(raw, claimStatement(claim), signature);
}
