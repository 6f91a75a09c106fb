/**
 * The global `Buffer` of the room page's bundle (scripts/bundle.ts `inject`): the `buffer`
 * package, so that modules the page shares with the programs (src/protocol/kdf.ts) run unchanged.
 */
export { Buffer } from 'buffer';
