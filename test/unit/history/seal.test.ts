// Seals over history rows: one signature that vouches for a segment of a sender's rows, so that
// a reader checks one signature instead of each row's; never a way past any other check.
import { expect } from 'chai';
import { Sender } from '../../../src/conversation/sender.js';
import type { HistoryRow, StoredHistoryRow } from '../../../src/db/index.js';
import { openRowVouched } from '../../../src/history/rows.js';
import { HistorySealer, SEAL_BYTES, SEAL_ROWS, vouchedRows } from '../../../src/history/seal.js';
import { newSigner, roomCodec, type Signer } from '../../../src/protocol/index.js';

const ROOM = '123456';
const SECRET = Buffer.alloc(32, 7);

/** `count` typed lines of `signer`, a row each, sealed as a writer seals them: `per` rows a transaction. */
function typed(signer: Signer, count: number, per = 1, sender = new Sender('alice')) {
  const codec = roomCodec(ROOM, 'encrypted', SECRET, signer);
  const sealer = new HistorySealer(ROOM, signer);
  const rows: StoredHistoryRow[] = [];
  for (let at = 0; at < count; at += per) {
    const batch: HistoryRow[] = [];
    for (let i = at; i < Math.min(count, at + per); i++) {
      const p = sender.message(`line ${i + 1}`);
      batch.push({
        signer: signer.publicKey,
        sender: sender.id,
        firstSeq: p.seq!,
        lastSeq: p.seq!,
        payload: Buffer.from(codec.encode(p)),
      });
    }
    const sealed = sealer.seal(batch);
    sealed.commit();
    rows.push(...sealed.rows.map((r) => ({ ...r, sentAt: new Date() })));
  }
  return { rows, codec, sender };
}

describe('history seals', function () {
  it('seal the last row of each transaction over its segment, at most SEAL_ROWS rows', function () {
    const alice = newSigner();
    const { rows } = typed(alice, SEAL_ROWS + 10, 7);
    const sealed = rows.filter((r) => r.seal !== undefined);
    for (const r of sealed) expect(r.seal).to.have.length(SEAL_BYTES);
    // The last row of each transaction of 7, and the row that filled the first segment.
    const expected = new Set(
      rows
        .map((_, i) => i)
        .filter((i) => i % 7 === 6 || i === rows.length - 1 || i === SEAL_ROWS - 1),
    );
    expect(new Set(rows.flatMap((r, i) => (r.seal ? [i] : [])))).to.deep.equal(expected);
  });

  it('vouch for every row of an intact stream, typed lines a transaction each', function () {
    const alice = newSigner();
    const { rows } = typed(alice, 1000);
    const vouched = vouchedRows(ROOM, rows);
    expect(vouched.size).to.equal(1000);
  });

  it('vouch for rows in any order, of several streams, and each stream only by its own key', function () {
    const alice = typed(newSigner(), 300, 3).rows;
    const bob = typed(newSigner(), 200, 50, new Sender('bob')).rows;
    // Interleaved, newest first.
    const all = [...alice, ...bob]
      .map((r, i) => ({ r, k: (i * 7919) % 500 }))
      .sort((a, b) => a.k - b.k)
      .map(({ r }) => r);
    expect(vouchedRows(ROOM, all).size).to.equal(500);
  });

  it('vouch for nothing in a segment whose first rows were not read; the segments after it hold', function () {
    const { rows } = typed(newSigner(), 3 * SEAL_ROWS);
    const read = rows.slice(10);
    const vouched = vouchedRows(ROOM, read);
    expect(vouched.size).to.equal(2 * SEAL_ROWS);
    expect(read.slice(0, SEAL_ROWS - 10).some((r) => vouched.has(r))).to.equal(false);
  });

  it('vouch for nothing of a segment where a row was deleted, added, changed or moved', function () {
    const alice = newSigner();
    const mallory = newSigner();
    const cases: [string, (rows: StoredHistoryRow[]) => StoredHistoryRow[]][] = [
      ['deleted', (rows) => rows.filter((_, i) => i !== 40)],
      [
        'changed',
        (rows) =>
          rows.map((r, i) => {
            if (i !== 40) return r;
            const payload = Buffer.from(r.payload);
            payload[payload.length - 3] = payload[payload.length - 3]! ^ 1;
            return { ...r, payload };
          }),
      ],
      [
        'swapped',
        (rows) => rows.map((r, i) => (i === 40 ? { ...r, payload: rows[41]!.payload } : r)),
      ],
      [
        "added, under alice's name and numbers",
        (rows) => {
          const forged = typed(mallory, 1, 1, new Sender('x')).rows[0]!;
          return [...rows.filter((_, i) => i !== 40), { ...rows[40]!, payload: forged.payload }];
        },
      ],
      [
        'sealed again by another key',
        (rows) => {
          const other = typed(mallory, SEAL_ROWS).rows;
          return rows.map((r, i) => (r.seal ? { ...r, seal: other[i]!.seal! } : r));
        },
      ],
      [
        'seal moved to another row',
        (rows) => {
          const last = rows[SEAL_ROWS - 1]!;
          return rows.map((r, i) =>
            i === SEAL_ROWS - 1
              ? { ...r, seal: rows[SEAL_ROWS - 2]!.seal! }
              : i === SEAL_ROWS - 2
                ? { ...r, seal: last.seal! }
                : r,
          );
        },
      ],
      [
        'sealed for another room',
        (rows) => {
          const sealer = new HistorySealer('654321', alice);
          const resealed = rows.map((r) => {
            const one = sealer.seal([r]);
            one.commit();
            return one.rows[0]!.seal!;
          });
          return rows.map((r, i) => ({ ...r, seal: resealed[i]! }));
        },
      ],
    ];
    const { rows } = typed(alice, SEAL_ROWS);
    expect(vouchedRows(ROOM, rows).size).to.equal(SEAL_ROWS);
    for (const [what, change] of cases)
      expect(vouchedRows(ROOM, change(rows)).size, what).to.equal(0);
  });

  it('open a vouched row only if the key its columns name made it', function () {
    const alice = newSigner();
    const mallory = newSigner();
    const { rows, codec } = typed(alice, 2);
    expect(openRowVouched(codec, rows[0]!).ok).to.equal(true);
    const forged = typed(mallory, 1).rows[0]!;
    const claimed = { ...forged, signer: alice.publicKey };
    expect(openRowVouched(codec, claimed)).to.deep.include({ ok: false });
    // Everything else is checked as for any row: its numbers, and that it opens at all.
    expect(openRowVouched(codec, { ...rows[0]!, firstSeq: 5, lastSeq: 5 })).to.deep.include({
      ok: false,
    });
    const broken = Buffer.from(rows[0]!.payload);
    broken[broken.length - 5] = broken[broken.length - 5]! ^ 1;
    expect(openRowVouched(codec, { ...rows[0]!, payload: broken }).ok).to.equal(false);
  });
});
