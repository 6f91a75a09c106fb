// What signing costs: sealing (sign + encrypt) and opening (decrypt + verify) one MQTT message
// of 1 line and of a 1,000-line batch, in process, and loading the identity (once per program).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Sender } from '../src/conversation/sender.js';
import { loadIdentity } from '../src/home/identity.js';
import { encryptedCodec, type ChatPayload } from '../src/protocol/index.js';

export interface SigningResult {
  /** Microseconds per MQTT message: seal and open, for 1 line and for 1,000 lines. */
  seal1Us: number;
  open1Us: number;
  seal1000Us: number;
  open1000Us: number;
  /** Milliseconds to load an identity that exists (what every `publish` pays). */
  loadIdentityMs: number;
}

function microseconds(runs: number, fn: () => void): number {
  for (let i = 0; i < Math.min(runs, 50); i++) fn(); // warm up
  const started = process.hrtime.bigint();
  for (let i = 0; i < runs; i++) fn();
  return Math.round(Number(process.hrtime.bigint() - started) / runs / 100) / 10;
}

/** Measures the signed envelope's costs on this machine. */
export function benchSigning(): SigningResult {
  const home = mkdtempSync(join(tmpdir(), 'sunoye-bench-id-'));
  try {
    loadIdentity(home); // made once
    const started = process.hrtime.bigint();
    const identity = loadIdentity(home);
    const loadIdentityMs = Number(process.hrtime.bigint() - started) / 1e6;
    const codec = encryptedCodec('482913', randomBytes(32), identity.signer);
    const sender = new Sender('alice');
    const one = sender.message('x'.repeat(60));
    const batch: ChatPayload[] = Array.from({ length: 1000 }, (_, i) =>
      sender.message(`line ${i} ${'x'.repeat(50)}`),
    );
    const sealedOne = codec.encode(one);
    const sealedBatch = codec.encodeBatch(batch);
    return {
      seal1Us: microseconds(5000, () => codec.encode(one)),
      open1Us: microseconds(5000, () => codec.decodeAll(sealedOne)),
      seal1000Us: microseconds(50, () => codec.encodeBatch(batch)),
      open1000Us: microseconds(50, () => codec.decodeAll(sealedBatch)),
      loadIdentityMs: Math.round(loadIdentityMs * 100) / 100,
    };
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}
