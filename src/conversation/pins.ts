/**
 * The pins of a room as the terminal programs keep them (a room file), read by `room info` and
 * the room window's member list without pinning anything.
 */
import { pinsPath, readRoomFile } from '../home/room-files.js';
import { fingerprint } from '../protocol/points.js';
import { bounded, pinsOf } from './senders.js';

/** The pinned keys of a room, name -> fingerprint. */
export function pinnedFingerprints(home: string, store: string, room: string): Map<string, string> {
  const pins = new Map<string, string>();
  const names = bounded(pinsOf(readRoomFile(pinsPath(home, store, room))));
  for (const [name, pin] of Object.entries(names))
    if (typeof pin?.key === 'string') pins.set(name, fingerprint(Buffer.from(pin.key, 'base64')));
  return pins;
}

/** The pinned keys of a room, name -> public key; read only (showing a room pins nothing). */
export function pinnedKeys(home: string, store: string, room: string): Map<string, Buffer> {
  const pins = new Map<string, Buffer>();
  for (const [name, pin] of Object.entries(pinsOf(readRoomFile(pinsPath(home, store, room)))))
    pins.set(name, Buffer.from(pin.key, 'base64'));
  return pins;
}
