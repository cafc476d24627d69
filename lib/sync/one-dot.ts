/**
 * The peer model's dots (peer-model.ts dotsOf) of a state of one live version whose own dot is its whole context — a key
 * one replica wrote, most keys — kept as that dot alone: its version, context and points are made when first read.
 *
 * Why: every client of a relay models the relay's state of each key the relay fans out to it (told: the relay sent it),
 * and as plain objects those dots were ten objects a key (the state, its versions' array and its store, the dot and its
 * boxed HLC, the context, the points, their array and its store, the point; ~390 bytes), each copied by the client's
 * young-generation collections: with 50 clients on a thread (bench S7, bench/floor/s7-tail.mjs) those copies are what
 * the collections inside S7's slowest writes pause for. Kept so, they are this object and its boxed HLC (a ToldDot
 * in the peer model not even that: model-states.ts keeps its fields in columns). What reads it
 * (a later frame of the key joined into it, the forms of a write of ours) gets the same fields, made once: a state is a
 * value everywhere in the library, so what was made is kept and given again.
 */
import type { KeyState, StoredVersion, VersionVector } from '../dvv.js';
import { onlyPoint, type EpochPoints } from '../epoch-points.js';

export class OneDot implements KeyState {
  /** The plain state (versions, context, points), made at the first read of any of them: one field, not three. */
  private plain: KeyState | undefined;

  constructor(
    /** The dot's fields, read as they are only where it is kept (model-states.ts keeps a ToldDot's in columns). */
    readonly r: string,
    readonly ep: string | undefined,
    readonly n: number,
    readonly t: number,
    readonly c: number,
  ) {}

  /**
   * The dots of `s` kept so, or undefined where `s` is not one live version whose own dot is its whole context. `told`:
   * as a ToldDot (the peer told it: peer-model.ts keeps it as both its states and told).
   */
  static of(s: KeyState, told = false): OneDot | undefined {
    if (s.vs.length !== 1) return undefined;
    const { r, ep, n, t, c, d } = s.vs[0]!;
    if (d !== undefined) return undefined;
    for (const id in s.cc) if (id !== r) return undefined;
    if (s.cc[r] !== n) return undefined;
    if (ep === undefined ? s.pts !== undefined : !onlyPoint(s.pts, r, ep, n)) return undefined;
    return told ? new ToldDot(r, ep, n, t, c) : new OneDot(r, ep, n, t, c);
  }

  private made(): KeyState {
    if (this.plain) return this.plain;
    const { r, ep, n, t, c } = this;
    if (ep === undefined) return (this.plain = { vs: [{ r, n, t, c }], cc: { [r]: n } });
    return (this.plain = { vs: [{ r, ep, n, t, c }], cc: { [r]: n }, pts: { [r]: [{ e: ep, n }] } });
  }

  get vs(): readonly StoredVersion[] {
    return this.made().vs;
  }

  get cc(): VersionVector {
    return this.made().cc;
  }

  get pts(): EpochPoints | undefined {
    return this.ep === undefined ? undefined : this.made().pts;
  }
}

/**
 * A one-dot state the peer told a link itself, kept in the peer model as both what the link knows of the peer's state
 * and what the peer told (peer-model.ts: one entry, where two maps held the same dots under one id). Nothing more
 * than its class: a client of a relay keeps one per key the relay fans out to it.
 */
export class ToldDot extends OneDot {}
