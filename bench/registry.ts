/**
 * Registry timings for `npm run bench`: `room create`, `join` and `info` as the programs do them
 * through the library (createRoom; touch + secret check; status), on a database already holding
 * `rooms` rooms and `members` live members. The key derivation (scrypt) is timed apart: it is the
 * deliberate cost of a password, paid once per create or join, and not a database cost.
 */
import { deriveRoomSecret, newKdfParams, secretMatches, verifier } from '../src/protocol/index.js';
import { openStore, type RoomStore } from '../src/db/index.js';

export interface OperationTimes {
  p50: number;
  p99: number;
  max: number;
}
export interface RegistryResult {
  backend: string;
  rooms: number;
  members: number;
  fillSeconds: number;
  create: OperationTimes;
  join: OperationTimes;
  info: OperationTimes;
}

function percentiles(ms: number[]): OperationTimes {
  const s = [...ms].sort((a, b) => a - b);
  const at = (q: number): number =>
    Number(s[Math.min(s.length - 1, Math.floor(q * s.length))]!.toFixed(2));
  return { p50: at(0.5), p99: at(0.99), max: Number(s[s.length - 1]!.toFixed(2)) };
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

/** Median milliseconds of one scrypt derivation with the parameters new rooms get. */
export async function kdfMilliseconds(runs = 5): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++)
    times.push(await timed(() => deriveRoomSecret('correct horse battery staple', newKdfParams())));
  return percentiles(times).p50;
}

/** Fills the registry at `url`, then times `samples` of each operation. */
export async function benchRegistry(
  url: string,
  backend: string,
  options: { rooms: number; members: number; samples: number },
): Promise<RegistryResult> {
  const kdf = newKdfParams();
  const secret = await deriveRoomSecret('correct horse battery staple', kdf);
  const newRoom = {
    creator: 'bench',
    mode: 'encrypted' as const,
    idleSeconds: 3600,
    kdf,
    verifier: (room: string) => verifier(secret, room, 'encrypted'),
  };
  const store: RoomStore = await openStore(url);
  try {
    const filled = process.hrtime.bigint();
    const numbers: string[] = [];
    // Ten writers at a time, as many users would.
    for (let i = 0; i < options.rooms; i += 10) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(10, options.rooms - i) }, () => store.createRoom(newRoom)),
      );
      numbers.push(...batch.map((r) => r.number));
    }
    for (let i = 0; i < options.members; i += 10) {
      await Promise.all(
        Array.from({ length: Math.min(10, options.members - i) }, (_, j) =>
          store.addMember(numbers[(i + j) % numbers.length]!, `member${i + j}`, 3600),
        ),
      );
    }
    const fillSeconds = Number(process.hrtime.bigint() - filled) / 1e9;

    const pick = (i: number): string => numbers[(i * 7919) % numbers.length]!;
    const create: number[] = [];
    const join: number[] = [];
    const info: number[] = [];
    for (let i = 0; i < options.samples; i++) {
      create.push(await timed(() => store.createRoom(newRoom)));
      join.push(
        await timed(async () => {
          const room = pick(i);
          const status = await store.touch(room);
          if (!status || !secretMatches(secret, status.room.verifier, room, 'encrypted'))
            throw new Error('join failed');
        }),
      );
      info.push(
        await timed(async () => {
          if (!(await store.status(pick(i + 1)))) throw new Error('info failed');
        }),
      );
    }
    return {
      backend,
      rooms: options.rooms,
      members: options.members,
      fillSeconds: Number(fillSeconds.toFixed(1)),
      create: percentiles(create),
      join: percentiles(join),
      info: percentiles(info),
    };
  } finally {
    await store.close();
  }
}
