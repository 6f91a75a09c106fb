/**
 * A room's members as this user can trust them (`room info`, `/who`). Each registry row is
 * shown by the key that signed it, checked against this user's pins as message lines are; a row
 * without a valid signature is `unverified` and never shown under anyone's key. The registry is
 * anyone's who can write to the database, so showing it pins nothing.
 */
import type { Colour } from './colour.js';
import { clockTime } from './render.js';
import { visibleName } from '../protocol/sanitise.js';
import type { Trust } from '../conversation/senders.js';
import { pinnedKeys } from '../conversation/pins.js';
import type { Member } from '../db/index.js';
import { fingerprint, membershipSigned } from '../protocol/index.js';

/** A member's trust: a sender's, or `unverified` (a row whose signature does not check, or none). */
export type MemberTrust = Trust | 'unverified';

/** One membership as shown. */
export interface MemberView {
  name: string;
  trust: MemberTrust;
  /** The fingerprint of the key that signed the row (verified rows only). */
  key?: string;
  /** For `changed`: the fingerprint of the key this user knows the name by. */
  pinned?: string;
  joinedAt: Date;
}

/** Who is looking, and what they know. */
export interface Viewer {
  /** Whether the room is signed (encrypted); a plain room's members are `unsigned`. */
  signed: boolean;
  name: string;
  /** This user's public key, if they have an identity. */
  publicKey: Buffer | undefined;
  /** This user's pins for the room, name -> key. */
  pins: Map<string, Buffer>;
}

/** The viewer `me` of a room (signed or not), with this user's pins of it. */
export function viewerOf(
  home: string,
  store: string,
  room: string,
  me: { name: string; publicKey: Buffer | undefined },
  signed: boolean,
): Viewer {
  return { signed, ...me, pins: pinnedKeys(home, store, room) };
}

/** How far one registry row can be trusted by `viewer`: the rule of message lines, read only. */
export function viewMember(member: Member, viewer: Viewer): MemberView {
  const { name, joinedAt } = member;
  if (!viewer.signed) return { name, trust: 'unsigned', joinedAt };
  const { key, signature } = member;
  if (
    !key ||
    !signature ||
    !membershipSigned({ room: member.room, name, key, joinedAt }, signature)
  )
    return { name, trust: 'unverified', joinedAt };
  const view = (trust: MemberTrust, pinned?: Buffer): MemberView => ({
    name,
    trust,
    key: fingerprint(key),
    ...(pinned ? { pinned: fingerprint(pinned) } : {}),
    joinedAt,
  });
  if (name === viewer.name)
    return viewer.publicKey?.equals(key) ? view('you') : view('changed', viewer.publicKey);
  const pinned = viewer.pins.get(name);
  if (pinned === undefined) return view('new');
  return pinned.equals(key) ? view('known') : view('changed', pinned);
}

/** A row under a key that is not the one this user knows its name by: only the key, and the claim. */
function notTheOne(view: MemberView, colour: Colour): string {
  const name = visibleName(view.name);
  return colour.red(
    `[key ${view.key}, NOT the ${name.startsWith('"') ? name : `"${name}"`} you know]`,
  );
}

/**
 * One member a line, the time it joined first (an old join time on a live row is visible), then
 * the name as message lines show it: a name under a key that is not the one this user knows it
 * by is not shown as that name, only as the key that claims it.
 */
export function memberLine(view: MemberView, colour: Colour): string {
  const joined = colour.gray(`joined ${clockTime(view.joinedAt)}`);
  const name = visibleName(view.name);
  let who: string;
  switch (view.trust) {
    case 'you':
      who = `${name}${colour.dim(` (you) [key ${view.key}]`)}`;
      break;
    case 'known':
      who = `${name}${colour.dim(` [key ${view.key}]`)}`;
      break;
    case 'new':
      who = `${name}${colour.dim(` [key ${view.key}, not seen yet]`)}`;
      break;
    case 'changed':
      who = notTheOne(view, colour);
      break;
    case 'unverified':
      who = `${name}${colour.yellow(' [unverified]')}`;
      break;
    case 'unsigned':
      who = name;
  }
  return `${joined}  ${who}`;
}

/** At most this many others are named on entering a room; /who lists them all. */
export const PRESENT_NAMES = 20;

/**
 * Who else is in the room, in one line, as the window says on entering it (IRC's NAMES on join):
 * `in the room: alice, carol (and you)`. Each member is shown as /who shows it: a name under a key
 * that is not the one this user knows it by only as that key, an unverified row marked so. Names
 * that hold a comma are quoted (`visibleName`), so no name passes for two. `mine` is how many of
 * the rows are this user's (this window's own, and any other window of theirs).
 */
export function presentLine(others: MemberView[], mine: number, colour: Colour): string {
  const you = mine > 1 ? `and you, in ${mine} places` : 'and you';
  if (others.length === 0)
    return `nobody else is in the room${mine > 1 ? ` (you are in ${mine} places)` : ''}`;
  const names = others.slice(0, PRESENT_NAMES).map((view) => {
    const name = visibleName(view.name);
    switch (view.trust) {
      case 'changed':
        return notTheOne(view, colour);
      case 'unverified':
        return `${name}${colour.yellow(' [unverified]')}`;
      default:
        return name;
    }
  });
  const more = others.length - names.length;
  const rest = more > 0 ? `, and ${more} more (/who lists them)` : '';
  return `in the room: ${names.join(', ')}${rest} (${you})`;
}

/** A membership as JSON: name, key fingerprint (null when unverified or unsigned), trust, times. */
export function memberJson(view: MemberView): Record<string, unknown> {
  return {
    name: view.name,
    key: view.key ?? null,
    trust: view.trust,
    ...(view.pinned ? { pinned: view.pinned } : {}),
    joinedAt: view.joinedAt.toISOString(),
  };
}
