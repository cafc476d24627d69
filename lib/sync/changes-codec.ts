/**
 * The CHANGES (and PART) frame body (messages.ts): space, upTo, the frame's base time (its latest HLC ms), the entry
 * count, then per entry the key and its state (wire-state.ts), replica ids through the frame's string table and HLC
 * times as differences from the base time; from protocol 11 with the frame's epochs (epoch-wire.ts).
 */
import type { StoredVersion } from '../dvv.js';
import { type Reader, type Writer } from './codec.js';
import type { EpochIn, EpochOut } from './epoch-wire.js';
import { key, replicaId, space } from './fields.js';
import type { Changes, Entry, Part } from './messages.js';
import { readState, writeState, type Form, type StateCodec, type StateDecoder } from './wire-state.js';

function frameCodec(w: Writer, baseT: number, ep: EpochOut | undefined): StateCodec {
  return { rid: (s) => w.sym(s), time: (t) => w.int(t - baseT), ep };
}

function frameDecoder(r: Reader, baseT: number, ep: EpochIn | undefined): StateDecoder {
  return { rid: () => replicaId(r), time: () => baseT + r.int(), ep };
}

/** A CHANGES frame's fields after its type byte, through the frame's table `w`. */
export function writeChanges(w: Writer, m: Changes | Part, forms: ReadonlyMap<StoredVersion, Form> | undefined, ep?: EpochOut): void {
  w.str(m.space);
  w.uint(m.upTo);
  let baseT = 0;
  for (const [, s] of m.entries) for (const v of s.vs) if (v.t > baseT) baseT = v.t;
  w.uint(baseT);
  w.uint(m.entries.length);
  const codec = frameCodec(w, baseT, ep);
  for (const [k, s] of m.entries) {
    w.str(k);
    writeState(w, s, codec, forms);
  }
}

/** What writeChanges wrote (the caller checks what a PART must be). */
export function readChanges(r: Reader, maxValue: number, ep: EpochIn | undefined): { space: string; upTo: number; entries: Entry[] } {
  const s = space(r);
  const upTo = r.uint();
  const baseT = r.uint();
  const n = r.count(3);
  const entries: Entry[] = [];
  const decoder = frameDecoder(r, baseT, ep);
  for (let i = 0; i < n; i++) entries.push([key(r), readState(r, decoder, maxValue)]);
  return { space: s, upTo, entries };
}
