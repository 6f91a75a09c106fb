/**
 * The room page's Worker that derives a room secret from a password (scrypt, 0.3 to 2 s), so that
 * the page stays responsive and can show a progress bar. It hears one `DeriveRequest` and answers
 * with progress messages, then the secret or an error.
 */
import type { KdfParams } from '../protocol/kdf.js';
import { deriveRoomSecretWeb } from '../protocol/web-crypto.js';

/** What the page asks: a password and parameters it has checked (`checkKdfParams`). */
export interface DeriveRequest {
  password: string;
  kdf: KdfParams;
}

/** What the Worker answers, any number of progress messages first. */
export type DeriveAnswer = { progress: number } | { secret: Uint8Array } | { error: string };

/** The dedicated worker's own scope, as much of it as this file uses. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<DeriveRequest>) => void) | null;
  postMessage(answer: DeriveAnswer, transfer?: Transferable[]): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = ({ data }) => {
  let shown = 0;
  try {
    const secret = deriveRoomSecretWeb(data.password, data.kdf, (done) => {
      // A message per hundredth at most: noble reports far more often.
      if (done - shown >= 0.01 || done === 1) {
        shown = done;
        scope.postMessage({ progress: done });
      }
    });
    scope.postMessage({ secret }, [secret.buffer]);
  } catch (err) {
    scope.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
