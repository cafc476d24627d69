/**
 * The LIVE frame body (messages.ts): one log entry of a space, compact, through the connection's state
 * (conn-table.ts) — the space name, key and replica ids through the connection's string table, `upTo` as the
 * difference from the space's last log position on the connection, HLC times as differences from the last one.
 * A keystroke into a document then costs its delta and about a dozen bytes (docs/deltas.md has the budget).
 */
import { type KeyState, type StoredVersion } from '../dvv.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { FRAME_CHARS, FRAME_STRINGS, type ConnTableIn, type ConnTableOut } from './conn-table.js';
import { FRAME_EPOCHS } from './epoch-table.js';
import type { EpochIn, EpochOut } from './epoch-wire.js';
import { checkKey } from './fields.js';
import { readState, writeState, type Form, type StateDecoder } from './wire-state.js';

export interface LiveBody {
  space: string;
  upTo: number;
  entries: Array<readonly [string, KeyState]>;
}

/** The last entry `liveFits` weighed, and its answer: a relay's fan-out asks it of one entry for every link, twice. */
let fitEntry: LiveBody['entries'][number] | undefined;
let fitSpace = '';
let fits = false;

/** A log frame of one entry whose strings fit what one frame may add to the connection's table. */
export function liveFits(m: LiveBody): boolean {
  if (m.upTo <= 0 || m.entries.length !== 1) return false;
  const entry = m.entries[0]!;
  if (entry === fitEntry && m.space === fitSpace) return fits;
  fitEntry = entry;
  fitSpace = m.space;
  return (fits = weighs(m.space, entry));
}

/** Whether one entry's strings fit a frame (`liveFits`, uncached). */
function weighs(space: string, [key, s]: LiveBody['entries'][number]): boolean {
  let strings = 2;
  let chars = space.length + key.length;
  for (const v of s.vs) {
    strings += 1 + (v.x?.b.length ?? 0);
    chars += 64 * (1 + (v.x?.b.length ?? 0));
  }
  let writers = 0;
  for (const _ in s.cc) writers++;
  return strings + writers <= FRAME_STRINGS && chars + 64 * writers <= FRAME_CHARS;
}

/**
 * Writes the body (the type byte, which says whether `conn.begin` cleared the table, is the caller's); false, and the
 * connection's state as before `begin`, where the state's epochs would add more than FRAME_EPOCHS entries to the
 * connection's table (epoch-table.ts): the caller sends a CHANGES frame. A write that throws rolls back too.
 */
export function writeLive(w: Writer, m: LiveBody, conn: ConnTableOut, forms: ReadonlyMap<StoredVersion, Form> | undefined, ep?: EpochOut): boolean {
  try {
    writeBody(w, m, conn, forms, ep);
  } catch (e) {
    conn.rollback();
    throw e;
  }
  // Epochs this frame noted as told (ToldChains) stay noted: the CHANGES frame sent instead names each of them too.
  if (ep === undefined || ep.entries <= FRAME_EPOCHS) return true;
  conn.rollback();
  return false;
}

function writeBody(w: Writer, m: LiveBody, conn: ConnTableOut, forms: ReadonlyMap<StoredVersion, Form> | undefined, ep?: EpochOut): void {
  conn.sym(w, m.space);
  w.uint(m.upTo - (conn.upTo.get(m.space) ?? 0));
  conn.upTo.set(m.space, m.upTo);
  const [key, state] = m.entries[0]!;
  conn.sym(w, key);
  const codec = conn.codec;
  codec.w = w;
  codec.ep = ep;
  try {
    writeState(w, state, codec, forms);
  } finally {
    codec.w = codec.ep = undefined;
  }
}

/** Reads a LIVE body as a message of type `type` (the caller's CHANGES: one object, not a body copied into a message). */
export function readLive<T>(type: T, r: Reader, conn: ConnTableIn, cleared: boolean, maxValue: number, ep?: EpochIn): LiveBody & { type: T } {
  conn.begin(cleared);
  const s = conn.space(r);
  const last = conn.upTo.get(s) ?? 0;
  const upTo = last + r.uint();
  if (upTo <= last || !Number.isSafeInteger(upTo)) throw new ProtocolError('log stream went backwards');
  conn.upTo.set(s, upTo);
  const k = checkKey(conn.sym(r));
  return { type, space: s, upTo, entries: [[k, readState(r, new LiveDecoder(r, conn, ep), maxValue)]] };
}

/** The state decoder of one LIVE frame: replica ids through the connection's string table, HLC times as differences. */
class LiveDecoder implements StateDecoder {
  constructor(
    private readonly r: Reader,
    private readonly conn: ConnTableIn,
    readonly ep: EpochIn | undefined,
  ) {}

  rid(): string {
    return this.conn.rid(this.r);
  }

  time(): number {
    return (this.conn.t += this.r.int());
  }
}
