// The room window's own lines until the broker sends them back (src/conversation/echoes.ts): sent again
// after a reconnect, once more after a broker that lost our session had time to get everyone
// back, and reported when the broker acknowledged one and never sent it back.
import { expect } from 'chai';
import { Echoes } from '../../../src/conversation/echoes.js';
import { Sender } from '../../../src/conversation/sender.js';
import type { ChatPayload } from '../../../src/protocol/index.js';
import { elapse, waitFor } from '../../helpers/wait.js';

const TIMING = { echoTimeoutMs: 300, resendAfterMs: 100, settleMs: 300, tickMs: 10 };

function setup() {
  const resent: string[] = [];
  /** What each message sent again holds (the window keeps it in the room's history). */
  const holding: string[][] = [];
  const reports: string[] = [];
  const echoes = new Echoes(
    (payload, onAck, payloads) => {
      resent.push(payload);
      holding.push(payloads.map((p) => p.id!));
      setImmediate(() => onAck());
    },
    (line) => reports.push(line),
    TIMING,
  );
  const sender = new Sender('bob');
  /** Publishes `texts` as one message; returns its payloads and its acknowledgement. */
  const send = (...texts: string[]) => {
    const payloads: ChatPayload[] = texts.map((t) => sender.message(t));
    const ack = echoes.published(`payload:${texts.join('|')}`, payloads);
    return { ids: payloads.map((p) => p.id!), ack };
  };
  return { echoes, send, resent, holding, reports };
}

describe('the window follows its own lines until they come back', function () {
  it('sends again, once, a line not back after a reconnect; not one that came back', async function () {
    const { echoes, send, resent, holding, reports } = setup();
    const lost = send('lost with the connection');
    lost.ack();
    const fine = send('came back');
    fine.ack();
    echoes.back(fine.ids[0]!);
    echoes.offline();
    echoes.reconnected(false);
    await waitFor('the resend', () => resent.length > 0);
    expect(resent).to.deep.equal(['payload:lost with the connection']);
    expect(holding).to.deep.equal([lost.ids]);
    echoes.back(lost.ids[0]!);
    await elapse(TIMING.echoTimeoutMs + 100); // the subject: nothing more happens with time
    expect(resent).to.have.length(1);
    expect(reports).to.deep.equal([]);
    echoes.stop();
  });

  it('after a reconnect without the session, sends what went meanwhile once more, even if it came back', async function () {
    const { echoes, send, resent } = setup();
    echoes.offline();
    const typed = send('typed while offline');
    echoes.reconnected(true);
    typed.ack();
    echoes.back(typed.ids[0]!);
    const after = send('typed while the others come back');
    after.ack();
    echoes.back(after.ids[0]!);
    await waitFor('the settle', () => resent.length >= 2);
    expect(resent).to.deep.equal([
      'payload:typed while offline',
      'payload:typed while the others come back',
    ]);
    // Settled: a later line goes once.
    const later = send('later');
    later.ack();
    echoes.back(later.ids[0]!);
    await elapse(TIMING.settleMs);
    expect(resent).to.have.length(2);
    echoes.stop();
  });

  it('with the session kept, sends nothing again that came back', async function () {
    const { echoes, send, resent } = setup();
    echoes.offline();
    const typed = send('typed while offline');
    echoes.reconnected(false);
    typed.ack();
    echoes.back(typed.ids[0]!);
    await elapse(TIMING.settleMs + 100);
    expect(resent).to.deep.equal([]);
    echoes.stop();
  });

  it('reports an acknowledged line that never comes back, three by name and the rest counted', async function () {
    const { echoes, send, reports } = setup();
    const one = send('a\u0007bell and a long line '.padEnd(80, 'x'));
    one.ack();
    send('never acknowledged'); // counted by the outbox, not here
    const batch = send('two', 'three', 'four', 'five');
    batch.ack();
    echoes.back(batch.ids[3]!);
    await waitFor('the reports', () => reports.length >= 4);
    expect(reports).to.have.length(4);
    expect(reports[0]).to.match(
      /^not delivered: "a\\x07bell and a long line x+…" \(the broker did not send it back\)$/,
    );
    expect(reports.slice(1, 3)).to.deep.equal([
      'not delivered: "two" (the broker did not send it back)',
      'not delivered: "three" (the broker did not send it back)',
    ]);
    expect(reports[3]).to.equal('not delivered: 1 more line (the broker did not send them back)');
    echoes.stop();
    expect(reports).to.have.length(4);
  });

  it('at the end, reports what the broker acknowledged and did not send back', async function () {
    const { echoes, send, reports } = setup();
    const a = send('in time');
    const b = send('too late');
    a.ack();
    b.ack();
    let all = false;
    void echoes.allBack().then(() => (all = true));
    echoes.back(a.ids[0]!);
    await elapse(20);
    expect(all).to.equal(false);
    echoes.stop();
    expect(reports).to.deep.equal(['not delivered: "too late" (the broker did not send it back)']);
  });
});
