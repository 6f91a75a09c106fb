/**
 * What a membership's signature covers, the part every platform shares: "key K joined room R
 * under name N at time T", written one way only. `membership.ts` signs and checks it with
 * node:crypto; a page signs it with WebCrypto (`web-envelope.ts`).
 */

/** A membership as its member signs it. */
export interface MembershipClaim {
  room: string;
  name: string;
  /** The member's Ed25519 public key. */
  key: Uint8Array;
  /** When it joined, as the registry's clock said (whole milliseconds). */
  joinedAt: Date;
}

// The domain of these signatures: no signed message or batch starts with it, nor they with it.
const DOMAIN = 'sunoye/v1/membership\n';

/** The bytes signed: the domain, then the claim as a JSON array (one way to write each claim). */
export function claimStatement(claim: MembershipClaim): Buffer {
  const key = Buffer.from(claim.key.buffer, claim.key.byteOffset, claim.key.byteLength);
  const fields = [claim.room, key.toString('base64'), claim.name, claim.joinedAt.getTime()];
  return Buffer.from(`${DOMAIN}${JSON.stringify(fields)}`, 'utf8');
}
