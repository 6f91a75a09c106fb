// The room window's folding of a sender's burst of lines: a screenful shown, the rest counted.
import { expect } from 'chai';
import { BurstFolder } from '../../../src/terminal/bursts.js';
import { colours } from '../../../src/terminal/colour.js';
import type { ShownWith } from '../../../src/conversation/inbox.js';
import { Sender } from '../../../src/conversation/sender.js';

const plain = colours(false);
const known: ShownWith = { sender: { trust: 'known', key: 'aaaa-bbbb-cccc-dddd' }, late: false };
const other: ShownWith = { sender: { trust: 'known', key: 'eeee-ffff-0000-1111' }, late: false };

describe('folding bursts in the room window', function () {
  it('shows a screenful of a burst, says the rest is counted, and counts it exactly', function () {
    const said: string[] = [];
    const folder = new BurstFolder(
      () => 10,
      (line) => said.push(line),
      plain,
    );
    const bob = new Sender('bob');
    const carol = new Sender('carol');
    const shown: (string | undefined)[] = [];
    for (let i = 1; i <= 25; i++) {
      shown.push(folder.fold(bob.message(`line ${i}`), known));
      // Another sender in the middle of the burst is shown as ever.
      if (i === 15) expect(folder.fold(carol.message('hi'), other)).to.equal(undefined);
    }
    expect(shown.slice(0, 10)).to.deep.equal(Array<undefined>(10).fill(undefined));
    expect(shown[10]).to.equal(
      '… bob is sending many lines: the window counts the rest (listen shows them)\n',
    );
    expect(shown.slice(11)).to.deep.equal(Array<string>(14).fill(''));
    // Notices are never folded.
    expect(folder.fold(bob.notice('leave', 't'), known)).to.equal(undefined);
    folder.flush();
    expect(said).to.deep.equal(['… 15 more lines from bob (listen shows them)\n']);
  });

  it('ends a burst after a quiet gap: the count is said then, and the next line starts anew', async function () {
    const said: string[] = [];
    const folder = new BurstFolder(
      () => 1,
      (line) => said.push(line),
      plain,
      20,
    );
    const bob = new Sender('bob');
    for (let i = 0; i < 3; i++) folder.fold(bob.message('x'), known);
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (said.length > 0) resolve(clearInterval(check));
      }, 5);
    });
    expect(said).to.deep.equal(['… 2 more lines from bob (listen shows them)\n']);
    expect(folder.fold(bob.message('again'), known)).to.equal(undefined);
    folder.flush();
  });
});
