/**
 * The page's questions to `room serve --web` about a room: its public record (number, mode,
 * scrypt parameters, where its broker is: never the verifier, which would let anyone guess
 * passwords offline), and whether a verifier the page derived from a password is the room's, so
 * that a wrong password is told before the page sends anything to the room. Wrong guesses are
 * limited per client address (`rate-limit.ts`).
 */
import {
  MAX_SENDER_CHARS,
  SIGNER_BYTES,
  type HistoryQuery,
  type RoomRecord,
  type RoomStore,
} from '../db/index.js';
import { RefusedError } from '../errors.js';
import { roomTopic } from '../mqtt/topics.js';
import type { RoomMode } from '../protocol/index.js';
import { checkKdfParams, sameBytes, type KdfParams } from '../protocol/kdf.js';
import { joinBody, type PageMembers } from './members-api.js';
import type { FailureLimiter } from './rate-limit.js';

/** An answer of the API: its status, headers of its own, and a JSON body (none for 204). */
export interface Reply {
  status: number;
  headers?: Record<string, string>;
  json?: unknown;
}

/** What the page learns about a room before the password is typed. */
export interface PublicRecord {
  room: string;
  mode: RoomMode;
  kdf: KdfParams;
  /** The MQTT-over-WebSocket URL the page connects to. */
  broker: string;
  /** The room's MQTT topic (under the server's topic prefix). */
  topic: string;
  /** Whether the room keeps its history (sealed) in the registry. */
  history: boolean;
}

/** What the API reads rooms from. */
export interface RoomsApi {
  store: RoomStore;
  topicPrefix: string;
  limiter: FailureLimiter;
  /** The memberships of pages this server holds. */
  members: PageMembers;
  /** Where a record that cannot be served is reported (the server's stderr). */
  log(line: string): void;
}

const notFound = (room: string): Reply => ({
  status: 404,
  json: { error: `there is no open room ${room} here` },
});

/** Room `room`'s open record, or the reply that says why there is none to give. */
async function openRecord(api: RoomsApi, room: string): Promise<RoomRecord | Reply> {
  let record: RoomRecord | undefined;
  try {
    record = (await api.store.status(room))?.room;
    if (record) checkKdfParams(record.kdf);
  } catch (err) {
    // An altered record (RecordAlteredError is one) or parameters out of bounds.
    if (!(err instanceof RefusedError)) throw err;
    api.log(`room ${room}'s record is not served: ${(err as Error).message}`);
    return {
      status: 500,
      json: { error: `room ${room}'s record in the registry is invalid; it is not served` },
    };
  }
  if (!record || record.state !== 'open') return notFound(room);
  return record;
}

const isReply = (value: RoomRecord | Reply): value is Reply => 'status' in value;

/** GET /api/rooms/<room>: the public record, for the page to derive the room's keys. */
export async function publicRecord(api: RoomsApi, room: string, broker: string): Promise<Reply> {
  const record = await openRecord(api, room);
  if (isReply(record)) return record;
  const { alg, N, r, p, salt } = record.kdf;
  const json: PublicRecord = {
    room,
    mode: record.mode,
    kdf: { alg, N, r, p, salt },
    broker,
    topic: roomTopic(api.topicPrefix, room),
    history: record.mode === 'encrypted' && record.history.seconds > 0,
  };
  return { status: 200, json };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A request's JSON body, or undefined when it is not JSON. */
function parseJson(body: string): unknown {
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

/** The verifier of a request (`{"verifier":"<base64>", …}`), or undefined when malformed. */
function verifierOf(parsed: unknown): Buffer | undefined {
  const verifier = (parsed as { verifier?: unknown } | null)?.verifier;
  if (typeof verifier !== 'string' || verifier === '' || !BASE64.test(verifier)) return undefined;
  return Buffer.from(verifier, 'base64');
}

/**
 * Whether the request's verifier is room `room`'s: undefined when it is, else the reply that
 * says why not (an address with too many wrong ones in a window is told when to come back).
 */
async function refusal(
  api: RoomsApi,
  room: string,
  parsed: unknown,
  address: string,
): Promise<Reply | undefined> {
  const waitMs = api.limiter.waitMs(address);
  if (waitMs > 0) {
    const seconds = Math.ceil(waitMs / 1000);
    return {
      status: 429,
      headers: { 'retry-after': String(seconds) },
      json: { error: `too many wrong passwords; try again in ${seconds} s` },
    };
  }
  const verifier = verifierOf(parsed);
  if (!verifier) return { status: 400, json: { error: 'expected {"verifier":"<base64>"}' } };
  const record = await openRecord(api, room);
  if (isReply(record)) return record;
  if (sameBytes(verifier, record.verifier)) return undefined;
  api.limiter.fail(address);
  return { status: 403, json: { error: 'wrong password' } };
}

/** POST /api/rooms/<room>/check: 204 when the verifier is the room's, 403 when not. */
export async function checkVerifier(
  api: RoomsApi,
  room: string,
  body: string,
  address: string,
): Promise<Reply> {
  return (await refusal(api, room, parseJson(body), address)) ?? { status: 204 };
}

/**
 * POST /api/rooms/<room>/members: the page's membership, signed with its key, registered once
 * its verifier is the room's (see members-api.ts); 201 with the membership's id and lease.
 */
export async function joinMember(
  api: RoomsApi,
  room: string,
  body: string,
  address: string,
): Promise<Reply> {
  const parsed = parseJson(body);
  const join = joinBody(parsed);
  if (!join)
    return {
      status: 400,
      json: { error: 'expected {"verifier","name","key","signature","joinedAt"}' },
    };
  return (await refusal(api, room, parsed, address)) ?? api.members.join(room, join, address);
}

/** The most memberships `/who` gives at once. */
export const MAX_WHO = 1000;

/**
 * POST /api/rooms/<room>/who: the room's live memberships as the registry holds them (name, key,
 * the member's signature of its membership, join time), for a page whose verifier is the room's.
 * The page checks each signature itself: `room serve` is not trusted to vouch for anyone.
 */
export async function whoIsIn(
  api: RoomsApi,
  room: string,
  body: string,
  address: string,
): Promise<Reply> {
  const refused = await refusal(api, room, parseJson(body), address);
  if (refused) return refused;
  const members = ((await api.store.status(room))?.members ?? []).slice(0, MAX_WHO);
  return {
    status: 200,
    json: {
      members: members.map((m) => ({
        name: m.name,
        key: m.key?.toString('base64') ?? null,
        signature: m.signature?.toString('base64') ?? null,
        joinedAt: m.joinedAt.getTime(),
      })),
    },
  };
}

/**
 * The most one history read through `room serve` returns: a page asks for a screenful, and reads
 * on (as a listener does) only when notices crowd out the messages.
 */
export const PAGE_HISTORY_LIMITS = { payloads: 10_000, bytes: 8 * 2 ** 20 };

/** History reads under way at once, per client address and in all. */
const MAX_READS_PER_ADDRESS = 4;
const MAX_READS = 64;
const readsInFlight = new Map<string, number>();
let totalReads = 0;

/**
 * The sender stream a read names (`{"signer":"<base64 key>","sender","fromSeq","toSeq"}`: the
 * rows a page's recovery looks a gap up in), or undefined when it is not one.
 */
function streamOf(value: unknown): HistoryQuery['stream'] {
  const s = value as Record<string, unknown> | null;
  if (s === null || typeof s !== 'object') return undefined;
  const { signer, sender, fromSeq, toSeq } = s;
  if (typeof signer !== 'string' || !BASE64.test(signer)) return undefined;
  const key = Buffer.from(signer, 'base64');
  if (key.length !== SIGNER_BYTES) return undefined;
  if (typeof sender !== 'string' || sender.length === 0 || sender.length > MAX_SENDER_CHARS)
    return undefined;
  if (!Number.isSafeInteger(fromSeq) || !Number.isSafeInteger(toSeq)) return undefined;
  if ((fromSeq as number) < 0 || (toSeq as number) < (fromSeq as number)) return undefined;
  return { signer: key, sender, fromSeq: fromSeq as number, toSeq: toSeq as number };
}

/**
 * The history read a request asks for (`last`, `sinceMs`, `stream`, `maxRows`, `maxBytes`),
 * bounded.
 */
function historyQuery(parsed: unknown): HistoryQuery | undefined {
  const p = parsed as Record<string, unknown>;
  const { last, sinceMs, stream, maxRows, maxBytes } = p;
  const count = (value: unknown, max: number): number | undefined =>
    Number.isSafeInteger(value) && (value as number) >= 1
      ? Math.min(value as number, max)
      : undefined;
  const query: HistoryQuery = {
    maxRows: count(maxRows, PAGE_HISTORY_LIMITS.payloads) ?? PAGE_HISTORY_LIMITS.payloads,
    maxBytes: count(maxBytes, PAGE_HISTORY_LIMITS.bytes) ?? PAGE_HISTORY_LIMITS.bytes,
  };
  if (last !== undefined) {
    const n = count(last, PAGE_HISTORY_LIMITS.payloads);
    if (n === undefined) return undefined;
    query.last = n;
  }
  if (sinceMs !== undefined) {
    if (!Number.isSafeInteger(sinceMs)) return undefined;
    query.sinceMs = sinceMs as number;
  }
  if (stream !== undefined) {
    query.stream = streamOf(stream);
    if (!query.stream) return undefined;
  }
  return query;
}

/**
 * POST /api/rooms/<room>/history: rows of the room's history as the registry keeps them (sealed,
 * signed; the payload exactly as it was sent), for a page whose verifier is the room's. The page
 * opens and checks each row itself, as a listener does: a row `room serve` or the registry's
 * operator altered does not open.
 */
export async function historyRows(
  api: RoomsApi,
  room: string,
  body: string,
  address: string,
): Promise<Reply> {
  const parsed = parseJson(body);
  const refused = await refusal(api, room, parsed, address);
  if (refused) return refused;
  const query = historyQuery(parsed);
  if (!query)
    return {
      status: 400,
      json: {
        error:
          'expected {"verifier", "last"?, "sinceMs"?, "stream"?: {"signer", "sender", "fromSeq", "toSeq"}, "maxRows"?, "maxBytes"?}',
      },
    };
  // Each read may hold megabytes: a few at a time per address, and a bounded number in all.
  const reading = readsInFlight.get(address) ?? 0;
  if (reading >= MAX_READS_PER_ADDRESS || totalReads >= MAX_READS)
    return { status: 429, json: { error: 'too many history reads at once; try again shortly' } };
  readsInFlight.set(address, reading + 1);
  totalReads += 1;
  let rows;
  try {
    rows = await api.store.readHistory(room, query);
  } finally {
    totalReads -= 1;
    const left = (readsInFlight.get(address) ?? 1) - 1;
    if (left > 0) readsInFlight.set(address, left);
    else readsInFlight.delete(address);
  }
  return {
    status: 200,
    json: {
      rows: rows.map((row) => ({
        signer: row.signer.toString('base64'),
        sender: row.sender,
        firstSeq: row.firstSeq,
        lastSeq: row.lastSeq,
        payload: row.payload.toString('base64'),
        sentAt: row.sentAt.getTime(),
      })),
    },
  };
}
