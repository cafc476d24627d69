/**
 * Field checks shared by the protocol's codecs (messages.ts, ae-codec.ts, live.ts): every name, id, key and hash read
 * from a frame is validated here, and a bad one throws ProtocolError.
 */
import { isReplicaId } from '../dvv.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';

export const SPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
export const EPOCH = /^[A-Za-z0-9_-]{0,64}$/;
export const MAX_KEY_LENGTH = 1024;
export const MAX_TOKEN_LENGTH = 8192;
/** Presence payloads beyond this are refused (senders split theirs far below it, presence-hub.ts). */
export const MAX_PRESENCE_CHARS = 1024 * 1024;

export function space(r: Reader): string {
  const s = r.str();
  if (!SPACE_NAME.test(s)) throw new ProtocolError('invalid space name');
  return s;
}

export function replicaId(r: Reader, sym = true): string {
  const s = sym ? r.sym() : r.str();
  if (!isReplicaId(s)) throw new ProtocolError('invalid replica id');
  return s;
}

export function checkKey(s: string): string {
  if (s.length === 0 || s.length > MAX_KEY_LENGTH) throw new ProtocolError('invalid key');
  return s;
}

export function key(r: Reader): string {
  return checkKey(r.str());
}

/** A wire hash of `digits` hex digits, 8 (32 bits) or 6 (protocol 8's node hashes), see antientropy.ts wireHash. */
export function hash(r: Reader, digits: 6 | 8 = 8): string {
  let x = 0;
  for (let i = 0; i < digits / 2; i++) x = x * 256 + r.u8();
  return x.toString(16).padStart(digits, '0');
}

/** Writes a wire hash of 8 or 6 hex digits as 4 or 3 bytes. */
export function writeHash(w: Writer, h: string): void {
  const x = parseInt(h, 16);
  if (h.length === 8) w.u8(x >>> 24);
  w.u8((x >>> 16) & 255);
  w.u8((x >>> 8) & 255);
  w.u8(x & 255);
}
