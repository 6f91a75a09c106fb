/** A signing key for payloads that tests seal themselves, as a member other than the programs. */
import { newSigner } from '../../src/protocol/index.js';

export const TEST_SIGNER = newSigner();
