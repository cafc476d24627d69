/**
 * The peer model's dots (peer-model.ts dotsOf) of a state of one live version whose own dot is its whole context — a key
 * one replica wrote, most keys — kept as that dot alone: its version, context and points are made when first read.
 *
 * Why: every client of a relay models the relay's state of each key the relay fans out to it (told: the relay sent it),
 * and as plain objects those dots were ten objects a key (the state, its versions' array and its store, the dot and its
 * boxed HLC, the context, the points, their array and its store, the point; ~390 bytes), each copied by the client's
 * young-generation collections: with 50 clients on a thread (bench S7, bench/floor/s7-tail.mjs) those copies are what
 * the collections inside S7's slowest writes pause for. Kept so, they are this object and its boxed HLC. What reads it
 * (a later frame of the key joined into it, the forms of a write of ours) gets the same fields, made once: a state is a
 * value everywhere in the library, so what was made is kept and given again.
 */
import type { KeyState, StoredVersion, VersionVector } from '../dvv.js';
import { onlyPoint, type EpochPoints } from '../epoch-points.js';

export class OneDot implements KeyState {
  private made: readonly StoredVersion[] | undefined;
  private context: VersionVector | undefined;
  private points: EpochPoints | undefined;

  constructor(
    private readonly r: string,
    private readonly ep: string | undefined,
    private readonly n: number,
    private readonly t: number,
    private readonly c: number,
  ) {}

  /** The dots of `s` kept so, or undefined where `s` is not one live version whose own dot is its whole context. */
  static of(s: KeyState): OneDot | undefined {
    if (s.vs.length !== 1) return undefined;
    const { r, ep, n, t, c, d } = s.vs[0]!;
    if (d !== undefined) return undefined;
    for (const id in s.cc) if (id !== r) return undefined;
    if (s.cc[r] !== n) return undefined;
    if (ep === undefined ? s.pts !== undefined : !onlyPoint(s.pts, r, ep, n)) return undefined;
    return new OneDot(r, ep, n, t, c);
  }

  get vs(): readonly StoredVersion[] {
    const { r, ep, n, t, c } = this;
    return (this.made ??= [ep === undefined ? { r, n, t, c } : { r, ep, n, t, c }]);
  }

  get cc(): VersionVector {
    return (this.context ??= { [this.r]: this.n });
  }

  get pts(): EpochPoints | undefined {
    return this.ep === undefined ? undefined : (this.points ??= { [this.r]: [{ e: this.ep, n: this.n }] });
  }
}
