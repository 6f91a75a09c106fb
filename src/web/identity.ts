/**
 * The page's member identity: an Ed25519 key pair made by WebCrypto with a private key that
 * cannot be read out, kept as it is in the browser's IndexedDB (one per browser profile and
 * origin), as the terminal programs keep theirs in `$SUNOYE_HOME/identity.json`.
 */
import { newWebIdentity, webSignerOf, type WebSigner } from '../protocol/web-envelope.js';

const DATABASE = 'sunoye';
const STORE = 'identity';
const KEY = 'default';

function open(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DATABASE, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB refused'));
  });
}

function run<T>(
  db: IDBDatabase,
  mode: IDBTransactionMode,
  act: (s: IDBObjectStore) => IDBRequest<T>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const request = act(db.transaction(STORE, mode).objectStore(STORE));
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error('IndexedDB refused'));
  });
}

/**
 * This browser's signer: the kept key pair, or a new one kept from now on. Where IndexedDB is
 * unavailable (a private window that refuses it), a key for this visit only, and `kept` false.
 */
export async function pageIdentity(): Promise<{ signer: WebSigner; kept: boolean }> {
  try {
    const db = await open();
    try {
      let pair = (await run(db, 'readonly', (s) => s.get(KEY))) as CryptoKeyPair | undefined;
      if (pair === undefined) {
        pair = await newWebIdentity();
        await run(db, 'readwrite', (s) => s.put(pair, KEY));
      }
      return { signer: await webSignerOf(pair), kept: true };
    } finally {
      db.close();
    }
  } catch {
    return { signer: await webSignerOf(await newWebIdentity()), kept: false };
  }
}
