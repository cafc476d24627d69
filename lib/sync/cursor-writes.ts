/**
 * Cursor writes not durable yet, per replica and cursor: a hello tells the cursor it holds, and the peer then counts
 * its writes up to it as stored here (synced), so a hello reads a cursor only once its writes are durable.
 */
import type { StorageAdapter } from '../storage.js';
import { readCursor, type StoredCursor } from './lineage.js';

const cursorWrites = new WeakMap<object, Map<string, Promise<unknown>>>();

/** Stores the cursor record `key` alone, noted until durable (space-sync.ts). */
export function storeCursorAlone(core: { readonly storage: StorageAdapter }, key: string, value: unknown): Promise<void> {
  const write = core.storage.transact((tx) => tx.setMeta(key, value));
  noteCursorWrite(core, key, write);
  return write;
}

/** `write` stores the cursor record `key` (alone, or beside a join's entries). */
export function noteCursorWrite(core: object, key: string, write: Promise<unknown>): void {
  let pending = cursorWrites.get(core);
  if (!pending) cursorWrites.set(core, (pending = new Map()));
  const before = pending.get(key);
  // One promise per write where none is on its way (a client's joins of a live stream: each done before the next).
  const done = (): void => {
    if (pending.get(key) === settled) pending.delete(key);
  };
  const settled: Promise<unknown> = (before === undefined ? write : Promise.all([before, write])).then(done, done);
  pending.set(key, settled);
}

/** The noted writes of cursor record `key` (settled once each is durable or failed), if any are still on their way. */
export function cursorWriteOf(core: object, key: string): Promise<unknown> | undefined {
  return cursorWrites.get(core)?.get(key);
}


/**
 * The cursor record a join stores where the storage holds `stored` (read in its transaction): `value`, but never back
 * within the peer's epoch, nor its reach (restore detection judges by how far what we took may reach, handshake.ts).
 * Two links of one peer may both join: one closed with frames still queued behind a late join (file storage,
 * IndexedDB) joins them after the next link stored a cursor past them, or two instances on one storage each run one. What
 * is stored is durable with the entries it covers, so keeping it claims nothing more.
 */
export function cursorOver(stored: unknown, value: StoredCursor): StoredCursor {
  const was = readCursor(stored);
  if (!was) return value;
  const s = was.e === value.e && was.s > value.s ? was.s : value.s;
  const rs = value.re !== undefined && was.re === value.re && typeof was.rs === 'number' && was.rs > value.rs! ? was.rs : value.rs;
  if (s === value.s && rs === value.rs) return value;
  return value.re === undefined ? { e: value.e, s } : { e: value.e, s, re: value.re, rs };
}
