// An inbox as a listener of one encrypted room runs it (pins and replay record kept in a real
// SUNOYE_HOME folder), recording what it shows and warns; and payloads sealed for that room.
import { pinsPath, roomFile, seenPath } from '../../src/home/room-files.js';
import { Inbox, type ShownWith } from '../../src/conversation/inbox.js';
import { ReplayGuard } from '../../src/conversation/replay.js';
import { KnownSenders } from '../../src/conversation/senders.js';
import { encryptedCodec, type ChatPayload, type Signer } from '../../src/protocol/index.js';

export const ROOM = '123456';
export const TOPIC = `sunoye/room/${ROOM}`;
export const STORE = 'sqlite:/tmp/test.db';

/** A listener named `me` in ROOM, started at `since`, with its state in `home`. */
export function roomInbox(home: string, key: Buffer, me: Signer, since = Date.now()) {
  const shown: { payload: ChatPayload; how: ShownWith }[] = [];
  const warnings: string[] = [];
  const senders = new KnownSenders(roomFile(pinsPath(home, STORE, ROOM)), {
    name: 'me',
    publicKey: me.publicKey,
  });
  const replay = new ReplayGuard(roomFile(seenPath(home, STORE, ROOM)), since);
  const inbox = new Inbox(
    {
      topic: TOPIC,
      codec: encryptedCodec(ROOM, key, me),
      joinId: undefined,
      count: undefined,
      senders,
      replay,
    },
    {
      show: (payload, _at, how) => shown.push({ payload, how }),
      warn: (line) => warnings.push(line),
      closedNotice: () => undefined,
      countReached: () => undefined,
    },
  );
  return { inbox, shown, warnings, senders, replay };
}

/** Seals one payload, or a batch, for ROOM as `signer` sends it. */
export function sealer(key: Buffer, signer: Signer) {
  const codec = encryptedCodec(ROOM, key, signer);
  return (p: ChatPayload | ChatPayload[]): Buffer =>
    Buffer.from(Array.isArray(p) ? codec.encodeBatch(p) : codec.encode(p));
}
