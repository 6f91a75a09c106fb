/**
 * Lines of a signed sender stream that did not arrive (yet), handed by the inbox to whatever can
 * look them up elsewhere (the room's history, src/history/recovery.ts) before they are reported
 * as lost. Defined here so that the inbox knows nothing of the history (the layer rule).
 */
import type { ChatPayload } from '../protocol/index.js';

/** Sequence numbers `from..to` of one signed sender stream that did not arrive. */
export interface Gap {
  /** The stream's signing key (32 bytes), and as the inbox writes it (base64url). */
  signer: Buffer;
  key: string;
  /** The sending program's id (the prefix of its message ids). */
  sender: string;
  /** The stream as the inbox names it: `<key>/<sender>`. */
  stream: string;
  /** The sender's name as shown. */
  name: string;
  from: number;
  to: number;
  /**
   * A stream gone quiet across a reconnect: `from..to` are numbers past the last one heard, that
   * may never have been sent; only what is found counts.
   */
  quiet?: boolean;
}

/** What the inbox offers for one gap it handed over. */
export interface GapOwner {
  /** The parts of `from..to` that still have not arrived (at most a few ranges, lowest first). */
  unseen(from: number, to: number): [number, number][];
  /**
   * Payloads of the gap's stream found elsewhere, opened and signed by the stream's key: shown
   * late (each at most once, through the same checks as live ones).
   */
  found(payloads: ChatPayload[]): void;
  /** The lookup is over: what of `from..to` has still not arrived is reported lost. */
  settle(from: number, to: number): void;
}

/** Takes gaps to look up before they are reported. */
export interface GapRecovery {
  /** Takes `gap`; false when it does not (the inbox reports it at once, as without recovery). */
  missing(gap: Gap, owner: GapOwner): boolean;
}
