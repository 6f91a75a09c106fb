/** The room registry: interface, URL parsing and the opener. */
/** What a history row may hold (for those who check rows before the registry does). */
export { MAX_SENDER_CHARS, SIGNER_BYTES } from './history-rows.js';
export * from './open.js';
export * from './room-number.js';
export * from './store.js';
export * from './url.js';
