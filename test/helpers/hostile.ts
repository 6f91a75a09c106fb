/** fast-check generators of what an attacker or a broken client may put on a room's topic. */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { MAX_TEXT_BYTES, seal, type ChatPayload } from '../../src/protocol/index.js';
import { TEST_SIGNER } from './signer.js';

/**
 * Raw payloads: random bytes, schema-breaking JSON, deep nesting, huge text, MQTT-Chat's will,
 * envelopes truncated, bit-flipped, sealed for another room or with another key; with
 * `includeRoomKey`, also arbitrary JSON sealed with the room's real key (an insider's junk).
 */
export function hostilePayloads(
  key: Buffer,
  room: string,
  options: { includeRoomKey: boolean },
): fc.Arbitrary<Buffer | string> {
  /** Names and texts full of what terminals and parsers choke on. */
  const nasty = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.constantFrom(
      '\u001b[2J',
      '\u001b]0;x\u0007',
      '\u0000',
      '\u009b31m',
      '\u202e',
      '\ud800',
      '',
      ' ',
    ),
    fc.string({ unit: fc.constantFrom('a', '\u001b', '\n', '\r', '\u0000', 'é', '😀') }),
  );

  const payloads = fc.record(
    {
      type: fc.oneof(fc.constantFrom('message', 'notice'), fc.string()),
      from: fc.oneof(nasty, fc.integer(), fc.constant(null)),
      message: fc.oneof(nasty, fc.constant({})),
      notice: nasty,
      event: fc.oneof(fc.constantFrom('join', 'leave', 'lost', 'closed'), fc.string()),
      id: fc.oneof(fc.string(), fc.integer()),
      seq: fc.oneof(fc.integer({ min: -5, max: 2 ** 53 + 5 }), fc.double()),
      ts: fc.oneof(
        fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
        fc.string(),
      ),
    },
    { requiredKeys: [] },
  );

  const deepJson = fc
    .integer({ min: 1, max: 20_000 })
    .map((depth) => '['.repeat(depth) + ']'.repeat(depth));

  /** A valid envelope, then truncated, bit-flipped, or re-encoded. */
  const mangledEnvelopes = fc
    .tuple(
      fc.string(),
      fc.nat(),
      fc.nat(),
      fc.constantFrom('flip', 'truncate', 'swap-room', 'wrong-key'),
    )
    .map(([text, where, bit, how]) => {
      const sealed = seal(key, room, { type: 'message', from: 'a', message: text }, TEST_SIGNER);
      if (how === 'truncate') return sealed.slice(0, where % sealed.length);
      if (how === 'swap-room')
        return seal(key, '111111', { type: 'message', from: 'a', message: text }, TEST_SIGNER);
      if (how === 'wrong-key')
        return seal(
          randomBytes(32),
          room,
          { type: 'message', from: 'a', message: text },
          TEST_SIGNER,
        );
      const bytes = Buffer.from(sealed);
      bytes[where % bytes.length]! ^= 1 << (bit % 8);
      return bytes;
    });

  return fc.oneof(
    ...(options.includeRoomKey
      ? [payloads.map((p) => seal(key, room, p as unknown as ChatPayload, TEST_SIGNER))]
      : []),
    fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
    payloads.map((p) => JSON.stringify(p)),
    mangledEnvelopes,
    deepJson,
    fc.constantFrom(
      'User bob timed out.\n',
      'User \u001b[2J timed out.\n',
      'x'.repeat(MAX_TEXT_BYTES * 8),
    ),
  );
}
