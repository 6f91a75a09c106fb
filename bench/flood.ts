// A listener under a member's flood of crafted notices: silent ones (ends of made-up streams),
// numbered descending and scattered, over made-up streams and many keys, on an aedes broker of
// its own, while another member's lines go through. Reports the listener's peak RSS, whether
// every line of the other member was shown, and the notices per second it took.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { Sender } from '../src/conversation/sender.js';
import {
  encryptedCodec,
  messageKey,
  newSigner,
  type ChatNotice,
  type ChatPayload,
} from '../src/protocol/index.js';
import { startAedes } from '../test/helpers/brokers.js';
import { runProgram } from '../test/helpers/cli.js';
import { jsonLines, startProgram } from '../test/helpers/programs.js';
import { waitFor } from '../test/helpers/wait.js';

export interface FloodResult {
  notices: number;
  peakMb: number;
  /** Lines of the other member sent, and shown. */
  lines: number;
  shown: number;
  noticesPerSecond: number;
}

const PER_PACKET = 1000;

function silentEnd(stream: string, seq: number, ts: string): ChatNotice {
  const notice = 'User mallory finished sending.';
  return {
    type: 'notice',
    from: 'mallory',
    notice,
    event: 'end',
    id: `${stream}-${seq}`,
    seq,
    ts,
    since: ts,
  };
}

/** The `i`th packet of the flood: scattered numbers, made-up streams, or a new key's streams. */
function packet(i: number, ts: string): { notices: ChatNotice[]; newKey: boolean } {
  const stream = (): string => randomBytes(6).toString('base64url');
  const kind = i % 3;
  if (kind === 0) {
    // One stream, numbered descending by 3 from far up: no two numbers touch.
    const s = stream();
    const top = 3_000_000_000 - i * 4000;
    const notices = Array.from({ length: PER_PACKET }, (_, n) => silentEnd(s, top - 3 * n, ts));
    return { notices, newKey: false };
  }
  // A thousand made-up streams, each one number anywhere (of the last key, or of a new key).
  const notices = Array.from({ length: PER_PACKET }, () =>
    silentEnd(stream(), 1 + Math.floor(Math.random() * 1e9), ts),
  );
  return { notices, newKey: kind === 2 };
}

/** Runs the flood of `notices` (rounded up to whole packets of 1,000). */
export async function benchFlood(notices: number, lines = 20): Promise<FloodResult> {
  const dir = mkdtempSync(join(tmpdir(), 'sunoye-bench-flood-'));
  const broker = await startAedes();
  const env = {
    PATH: process.env.PATH ?? '',
    HOME: dir,
    SUNOYE_HOME: join(dir, 'home'),
    SUNOYE_DB: `sqlite:${join(dir, 'r.db')}`,
    SUNOYE_BROKER: broker.url,
    SUNOYE_NAME: 'alice',
  };
  const client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
  const listener = { child: undefined as ReturnType<typeof startProgram> | undefined };
  try {
    const created = await runProgram('room', ['create', '--json'], { env });
    const { room } = JSON.parse(created.stdout) as { room: string };
    const folder = join(dir, 'home', 'rooms');
    const file = readdirSync(folder).find((f) => f.startsWith(`${room}-`))!;
    const { secret } = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { secret: string };
    const key = messageKey(Buffer.from(secret, 'base64'), room);
    const topic = `sunoye/room/${room}`;
    const alice = startProgram('listen', [room, '--json'], env);
    listener.child = alice;
    await alice.line('the join notice', (l) => l.includes('"join"'), 30_000);
    let peakKb = 0;
    const sample = (): void => {
      const status = readFileSync(`/proc/${alice.child.pid}/status`, 'utf8');
      peakKb = Math.max(peakKb, Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0));
    };
    const timer = setInterval(sample, 200);

    const dave = new Sender('dave');
    const daves = encryptedCodec(room, key, newSigner());
    const seal = (codec: ReturnType<typeof encryptedCodec>, p: ChatPayload | ChatPayload[]) =>
      Buffer.from(Array.isArray(p) ? codec.encodeBatch(p) : codec.encode(p));
    await client.publishAsync(topic, seal(daves, dave.notice('join', topic, room)), { qos: 1 });
    let mallory = encryptedCodec(room, key, newSigner());
    const packets = Math.ceil(notices / PER_PACKET);
    const every = Math.max(1, Math.floor(packets / lines));
    const started = Date.now();
    let inFlight: Promise<unknown>[] = [];
    let sent = 0;
    for (let i = 0; i < packets; i++) {
      const { notices: batch, newKey } = packet(i, new Date().toISOString());
      if (newKey) mallory = encryptedCodec(room, key, newSigner());
      inFlight.push(client.publishAsync(topic, seal(mallory, batch), { qos: 1 }));
      if (i % every === every - 1 && sent < lines) {
        // The broker holds what the listener has not taken yet: one line waits for the last, so
        // at most `every` packets are held (the bench measures the listener, not the broker).
        const previous = `"line ${sent}"`;
        // A line never shown is counted at the end, not waited for past 2 minutes.
        if (sent > 0)
          await waitFor(
            'the listener',
            () => alice.stdoutLines.some((l) => l.includes(previous)),
            120_000,
          ).catch(() => undefined);
        sent += 1;
        const line = seal(daves, dave.message(`line ${sent}`));
        inFlight.push(client.publishAsync(topic, line, { qos: 1 }));
      }
      if (inFlight.length >= 20) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
    await Promise.all(inFlight);
    const last = seal(daves, dave.message('done'));
    await client.publishAsync(topic, last, { qos: 1 });
    await waitFor(
      'the last line',
      () => alice.stdoutLines.some((l) => l.includes('"done"')),
      600_000,
    );
    const seconds = (Date.now() - started) / 1000;
    sample();
    clearInterval(timer);
    const shown = jsonLines(alice.stdoutLines).filter(
      (m) => m.from === 'dave' && typeof m.message === 'string' && m.message.startsWith('line '),
    ).length;
    return {
      notices: packets * PER_PACKET,
      peakMb: Math.round(peakKb / 1024),
      lines: sent,
      shown,
      noticesPerSecond: Math.round((packets * PER_PACKET) / seconds),
    };
  } finally {
    const alice = listener.child;
    if (alice && alice.child.exitCode === null) {
      alice.child.kill('SIGTERM');
      await alice.exited;
    }
    await client.endAsync();
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
