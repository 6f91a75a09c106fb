/**
 * Who sent a payload. In an encrypted room a sender is its signing key; its name is pinned to
 * that key on first sight, per room, in `$SUNOYE_HOME/pins/` or the page's storage (as SSH's known_hosts pins a host's
 * key). A known name under another key is never shown as that person. Plain rooms are unsigned:
 * their names are unverified.
 */
import { fingerprint } from '../protocol/points.js';
import type { RoomDocument } from '../home/room-files.js';

/**
 * How far a sender's name can be trusted: `you` (our own key under our name), `known` (the key
 * pinned for that name), `new` (a name seen for the first time, now pinned), `changed` (a known
 * name under another key: not that person), `unsigned` (a plain room or raw topic).
 */
export type Trust = 'you' | 'known' | 'new' | 'changed' | 'unsigned';

/** A sender as shown: its trust and, when signed, its key's fingerprint. */
export interface SenderView {
  trust: Trust;
  key?: string;
  /** For `changed`: the fingerprint pinned for the name. */
  pinned?: string;
}

const UNSIGNED: SenderView = { trust: 'unsigned' };
const FORMAT = 1;
/** Names pinned per room, at most (a room flooded with names stops pinning, never forgets). */
const MAX_PINS = 10_000;
/**
 * Names one key pins, at most: the first few it shows lines under. Its other names are never
 * pinned (shown as first seen on every line), so one key flooding names cannot fill the pins.
 */
export const MAX_PINS_PER_KEY = 4;

interface PinFile {
  format: number;
  names: Record<string, { key: string; since: string }>;
}

/** The pins of a pin file, as an object without a prototype (a name may be `__proto__`). */
export function pinsOf(value: unknown): PinFile['names'] {
  const v = value as Partial<PinFile> | undefined;
  const names = Object.create(null) as PinFile['names'];
  if (v?.format !== FORMAT || typeof v.names !== 'object' || v.names === null) return names;
  for (const [name, pin] of Object.entries(v.names as Record<string, unknown>)) {
    const p = pin as { key?: unknown; since?: unknown } | null;
    if (typeof p?.key === 'string')
      names[name] = { key: p.key, since: typeof p.since === 'string' ? p.since : '' };
  }
  return names;
}

/**
 * The pins to keep of `names`: per key the first few pinned (by their time), and no more than
 * the room's limit, so a file filled by an older version's flood of names is cut back.
 */
export function bounded(names: PinFile['names']): PinFile['names'] {
  const entries = Object.entries(names).sort((a, b) => a[1].since.localeCompare(b[1].since));
  const perKey = new Map<string, number>();
  const kept = Object.create(null) as PinFile['names'];
  let n = 0;
  for (const [name, pin] of entries) {
    const mine = perKey.get(pin.key) ?? 0;
    if (mine >= MAX_PINS_PER_KEY || n >= MAX_PINS) continue;
    perKey.set(pin.key, mine + 1);
    kept[name] = pin;
    n += 1;
  }
  return kept;
}

/** The senders of one room as this user knows them. */
export class KnownSenders {
  private readonly pins = new Map<string, string>(); // name -> base64 key
  private readonly perKey = new Map<string, number>(); // base64 key -> names pinned to it
  private readonly views = new Map<string, SenderView>(); // `${key} ${name}` -> view

  private writeFailed = false;
  /** Names pinned and not yet written. */
  private readonly unsaved = new Map<string, { key: string; since: string }>();

  constructor(
    private readonly document: RoomDocument | undefined,
    private readonly me: { name: string; publicKey: Buffer | undefined },
    /** Told once when the pins cannot be written (they are still kept in memory). */
    private readonly warn: (line: string) => void = () => undefined,
  ) {
    if (document)
      for (const [name, pin] of Object.entries(bounded(pinsOf(document.read()))))
        this.setPin(name, pin.key);
  }

  private setPin(name: string, key: string): void {
    this.last = {};
    const before = this.pins.get(name);
    if (before !== undefined) this.perKey.set(before, (this.perKey.get(before) ?? 1) - 1);
    this.pins.set(name, key);
    this.perKey.set(key, (this.perKey.get(key) ?? 0) + 1);
  }

  /** Whether a name is pinned to `key` (base64url, as the inbox writes it). */
  hasKey(key: string): boolean {
    return (this.perKey.get(Buffer.from(key, 'base64url').toString('base64')) ?? 0) > 0;
  }

  /** Where the pins are kept (undefined: nowhere, a raw topic). */
  get file(): string | undefined {
    return this.document?.name;
  }

  /**
   * How far `name` signed by `signer` can be trusted. A name seen for the first time is `new`
   * until `pin` is told that a line of it was shown.
   */
  classify(name: string, signer: Buffer | undefined): SenderView {
    if (!signer) return UNSIGNED;
    // The payloads of one message share its signer: the last answer is asked again, with no
    // key written out as text.
    if (signer === this.last.signer && name === this.last.name && this.last.view)
      return this.last.view;
    const view = this.judge(name, signer);
    this.last = { signer, name, view: view.trust === 'new' ? undefined : view };
    return view;
  }

  /** The last `classify` answered from the views (none: forgotten when a pin changes). */
  private last: { signer?: Buffer; name?: string; view?: SenderView | undefined } = {};

  private judge(name: string, signer: Buffer): SenderView {
    const key = signer.toString('base64');
    const cacheKey = `${key} ${name}`;
    const cached = this.views.get(cacheKey);
    // `new` is new once: later payloads of the same key and name are `known`.
    if (cached) return cached;
    const mine = this.me.publicKey?.equals(signer) === true;
    if (name === this.me.name)
      return mine
        ? this.remember(cacheKey, 'you', signer)
        : this.remember(cacheKey, 'changed', signer, this.me.publicKey);
    const pinned = this.pins.get(name);
    if (pinned === key) return this.remember(cacheKey, 'known', signer);
    if (pinned !== undefined)
      return this.remember(cacheKey, 'changed', signer, Buffer.from(pinned, 'base64'));
    return { trust: 'new', key: fingerprint(signer) };
  }

  /**
   * A line of `name` signed by `signer` was shown as new: the name is pinned to that key (only a
   * shown line pins, so silent payloads pin nothing). Past the limits (the key's, the room's)
   * the name is not pinned: it stays `new` on every line, never `known`, since another key could
   * claim it just the same.
   */
  pin(name: string, signer: Buffer): void {
    const key = signer.toString('base64');
    if (this.pins.has(name) || this.pins.size >= MAX_PINS) return;
    if ((this.perKey.get(key) ?? 0) >= MAX_PINS_PER_KEY) return;
    this.setPin(name, key);
    this.views.delete(`${key} ${name}`);
    // Written with the others at the next save: a flood of new names costs one write, not one
    // rewrite of the whole file per name.
    if (this.document) this.unsaved.set(name, { key, since: new Date().toISOString() });
  }

  /**
   * Writes the names pinned since the last save, merged with what other programs of this user
   * pinned meanwhile: a name pinned there first keeps that pin, here too from now on.
   */
  save(): void {
    if (!this.document || this.unsaved.size === 0) return;
    const ours = new Map(this.unsaved);
    this.unsaved.clear();
    const overruled: [string, string][] = [];
    try {
      this.document.update((current) => {
        const names = pinsOf(current);
        for (const [name, pin] of ours) {
          const theirs = names[name]?.key;
          if (theirs === undefined) names[name] = pin;
          else if (theirs !== pin.key) overruled.push([name, theirs]);
        }
        return { format: FORMAT, names: bounded(names) };
      });
    } catch (err) {
      if (!this.writeFailed)
        this.warn(
          `cannot write ${this.document.name} (${this.document.problem(err)}): names seen from now on are pinned only until this program ends`,
        );
      this.writeFailed = true;
    }
    for (const [name, theirs] of overruled) {
      this.setPin(name, theirs);
      for (const cacheKey of this.views.keys())
        if (cacheKey.slice(cacheKey.indexOf(' ') + 1) === name) this.views.delete(cacheKey);
    }
  }

  private remember(cacheKey: string, trust: Trust, signer: Buffer, pinned?: Buffer): SenderView {
    const view: SenderView = { trust, key: fingerprint(signer) };
    if (pinned) view.pinned = fingerprint(pinned);
    if (this.views.size >= MAX_PINS) {
      this.views.clear();
      this.last = {};
    }
    this.views.set(cacheKey, view);
    return view;
  }
}
