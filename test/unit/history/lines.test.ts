// The history as lines, whoever fetched and opened its rows (a listener from the registry, the
// room page through `room serve`): here rows are plain JSON and the opener only parses them, so
// what is checked is the order, the bounds and what is left out, not the sealing.
import { expect } from 'chai';
import type { HistoryQuery, StoredHistoryRow } from '../../../src/db/index.js';
import { Sender } from '../../../src/conversation/sender.js';
import { readLines, type RowOpener } from '../../../src/history/lines.js';
import type { ChatPayload } from '../../../src/protocol/index.js';

const start = Date.now();
/** `p`, signed `agoMs` before the test's start. */
const at = <T extends ChatPayload>(p: T, agoMs: number): T => ({
  ...p,
  ts: new Date(start - agoMs).toISOString(),
});
const texts = (lines: { payload: ChatPayload }[]) =>
  lines.map(({ payload }) => (payload.type === 'message' ? payload.message : payload.event));

/** One row a payload, for `key` (one byte repeated) and `sender`. */
function rowsOf(key: number, sender: Sender, payloads: ChatPayload[]): StoredHistoryRow[] {
  return payloads.map((p) => ({
    signer: Buffer.alloc(32, key),
    sender: sender.id,
    firstSeq: p.seq!,
    lastSeq: p.seq!,
    payload: Buffer.from(JSON.stringify(p)),
    sentAt: new Date(Date.parse(p.ts!) + 10),
  }));
}

/** Opens a row as its JSON; a row whose payload is not JSON did not open. */
const open: RowOpener = (toOpen) =>
  Promise.resolve(
    toOpen.map((row) => {
      try {
        const payload = JSON.parse(row.payload.toString()) as ChatPayload;
        return {
          ok: true as const,
          payloads: [payload],
          signer: row.signer,
          stream: `${row.signer.toString('base64url')}/${row.sender}`,
          sentAt: row.sentAt,
        };
      } catch {
        return { ok: false as const, reason: 'not JSON' };
      }
    }),
  );

/** What a registry answers: the newest rows holding `last` payloads, within the bounds. */
function registry(rows: StoredHistoryRow[]) {
  const asked: HistoryQuery[] = [];
  const fetchRows = (query: HistoryQuery): Promise<StoredHistoryRow[]> => {
    asked.push({ ...query });
    const written = rows
      .filter((r) => query.sinceMs === undefined || r.sentAt.getTime() >= query.sinceMs)
      .sort((a, b) => a.sentAt.getTime() - b.sentAt.getTime());
    return Promise.resolve(written.slice(-Math.min(query.last ?? Infinity, query.maxRows)));
  };
  return { fetchRows, asked };
}

describe('the history as lines', function () {
  it('merges streams by signing time, each in its own order, and leaves out rows that did not open', async function () {
    const bob = new Sender('bob');
    const carol = new Sender('carol');
    const rows = [
      ...rowsOf(1, bob, [at(bob.message('b1'), 500), at(bob.message('b2'), 300)]),
      ...rowsOf(2, carol, [at(carol.message('c1'), 400), at(carol.message('c2'), 100)]),
    ];
    rows.push({ ...rows[0]!, firstSeq: 9, lastSeq: 9, payload: Buffer.from('junk') });
    const { fetchRows } = registry(rows);
    const read = await readLines(fetchRows, open, {});
    expect(texts(read.lines)).to.deep.equal(['b1', 'c1', 'b2', 'c2']);
    expect(read.altered).to.have.length(1);
  });

  it('--last N reads more rows when notices crowd out the messages, and hides the older notices', async function () {
    const bob = new Sender('bob');
    const said: ChatPayload[] = [at(bob.message('first'), 9000)];
    for (let i = 0; i < 100; i++) said.push(at(bob.notice('join', 't', '1'), 8000 - i));
    said.push(at(bob.message('last'), 100));
    const { fetchRows, asked } = registry(rowsOf(1, bob, said));
    const read = await readLines(fetchRows, open, { last: 2 });
    expect(asked.length, 'a second, larger read').to.be.greaterThan(1);
    expect(read.lines.filter((l) => l.hidden !== true).map((l) => l.payload.type)).to.deep.equal([
      'message',
      'notice',
      'notice',
      'message',
    ]);
    expect(read.hidden).to.equal(98);
  });

  it('leaves to live a stream from its first line that came live (later ones are on their way)', async function () {
    const bob = new Sender('bob');
    const carol = new Sender('carol');
    const b = Array.from({ length: 6 }, (_, i) => at(bob.message(`b${i + 1}`), 600 - i * 100));
    const bobRows = rowsOf(1, bob, b);
    const rows = [...bobRows, ...rowsOf(2, carol, [at(carol.message('c1'), 50)])];
    const held = new Set([bobRows[2]!.payload.toString()]);
    const { fetchRows } = registry(rows);
    const read = await readLines(fetchRows, open, {
      live: { sinceMs: start - 60_000, has: (payload) => held.has(payload.toString()) },
    });
    expect(texts(read.lines)).to.deep.equal(['b1', 'b2', 'c1']);
    // Signed before the listener's start, a line that also came live stays history.
    const older = await readLines(fetchRows, open, {
      live: { sinceMs: start, has: (payload) => held.has(payload.toString()) },
    });
    expect(texts(older.lines)).to.deep.equal(['b1', 'b2', 'b3', 'b4', 'b5', 'b6', 'c1']);
  });
});
