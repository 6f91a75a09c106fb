/** The chat protocol: payload schema, decoding, encryption envelope and room keys. */
export * from './codec.js';
export * from './envelope.js';
export * from './keys.js';
export * from './membership.js';
export * from './payload.js';
export * from './schema.js';
export * from './signing.js';
