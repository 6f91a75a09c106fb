/** The room registry: interface, URL parsing and the opener. */
export * from './open.js';
export * from './room-number.js';
export * from './store.js';
export * from './url.js';
