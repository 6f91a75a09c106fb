// The page's pins and shown sequences in the browser's storage: one entry per room and kind,
// merged on write, and a damaged or full storage costs a warning, never the page.
import { expect } from 'chai';
import { KnownSenders } from '../../../src/conversation/senders.js';
import { newSigner } from '../../../src/protocol/index.js';
import { storageDocument, type KeyValueStore } from '../../../src/web/storage.js';

function memory(): KeyValueStore & { items: Map<string, string> } {
  const items = new Map<string, string>();
  return {
    items,
    getItem: (key) => items.get(key) ?? null,
    setItem: (key, value) => void items.set(key, value),
  };
}

describe('the page’s room documents', function () {
  it('keeps each room’s pins apart, and a page opened later knows them', function () {
    const store = memory();
    const alice = newSigner().publicKey;
    const first = new KnownSenders(storageDocument(store, 'pins', '111111'), {
      name: 'me',
      publicKey: undefined,
    });
    expect(first.classify('alice', alice).trust).to.equal('new');
    first.pin('alice', alice);
    first.save();
    expect([...store.items.keys()]).to.deep.equal(['sunoye/pins/111111']);
    const later = new KnownSenders(storageDocument(store, 'pins', '111111'), {
      name: 'me',
      publicKey: undefined,
    });
    expect(later.classify('alice', alice).trust).to.equal('known');
    expect(later.classify('alice', newSigner().publicKey).trust).to.equal('changed');
    const otherRoom = new KnownSenders(storageDocument(store, 'pins', '222222'), {
      name: 'me',
      publicKey: undefined,
    });
    expect(otherRoom.classify('alice', alice).trust).to.equal('new');
  });

  it('merges with what another tab wrote meanwhile', function () {
    const store = memory();
    const doc = storageDocument(store, 'seen', '1');
    doc.update(() => ({ a: 1 }));
    doc.update((current) => ({ ...(current as object), b: 2 }));
    expect(doc.read()).to.deep.equal({ a: 1, b: 2 });
  });

  it('reads damaged storage as empty, and a full one fails the write with its reason', function () {
    const store = memory();
    store.setItem('sunoye/pins/1', '{not json');
    const doc = storageDocument(store, 'pins', '1');
    expect(doc.read()).to.equal(undefined);
    const full: KeyValueStore = {
      getItem: () => null,
      setItem: () => {
        throw new Error('QuotaExceededError: the quota has been exceeded');
      },
    };
    const warnings: string[] = [];
    const senders = new KnownSenders(
      storageDocument(full, 'pins', '1'),
      { name: 'me', publicKey: undefined },
      (line) => warnings.push(line),
    );
    senders.pin('alice', newSigner().publicKey);
    senders.save();
    expect(warnings).to.deep.equal([
      "cannot write the browser's storage (sunoye/pins/1) (QuotaExceededError: the quota has been exceeded): names seen from now on are pinned only until this program ends",
    ]);
  });
});
