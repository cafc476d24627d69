/**
 * For SWIM (swim.ts): which update about a member wins (`overrides`), and choosing members with the member's
 * injected randomness, so a seed replays a run: the probe order (round-robin over a shuffled list, reshuffled per
 * pass, newcomers inserted at random) and random picks.
 */
import type { MemberState } from './messages.js';

export const isLive = (s: MemberState): boolean => s === 'alive' || s === 'suspect';

/**
 * Whether an update (`state` at incarnation `i`) about a member overrides what is held of it (`held` at `j`): the
 * precedence table of swim.ts. Alive needs a higher incarnation; suspect and dead win over a live state at an equal
 * one (suspect over suspect only at a higher one); left wins over everything at an equal one but over left.
 */
export function overrides(state: MemberState, i: number, held: MemberState, j: number): boolean {
  switch (state) {
    case 'alive':
      return i > j;
    case 'suspect':
    case 'dead':
      return isLive(held) && !(state === 'suspect' && held === 'suspect') ? i >= j : i > j;
    case 'left':
      return held === 'left' ? i > j : i >= j;
  }
}

interface Choosable {
  readonly id: string;
  readonly state: MemberState;
}

/** Fisher–Yates, in place. */
export function shuffle<T>(xs: T[], random: () => number): void {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = xs[i] as T;
    xs[i] = xs[j] as T;
    xs[j] = t;
  }
}

/** Up to `k` distinct random members of `from` satisfying `ok`. */
export function pick<M>(from: Iterable<M>, k: number, ok: (r: M) => boolean, random: () => number): M[] {
  const pool: M[] = [];
  for (const r of from) if (ok(r)) pool.push(r);
  const n = Math.min(k, pool.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    const t = pool[i] as M;
    pool[i] = pool[j] as M;
    pool[j] = t;
  }
  return pool.slice(0, n);
}

/** Each live member probed once per pass, in an order shuffled per pass. */
export class ProbeOrder {
  private order: string[] = [];
  private index = 0;
  /** While the member is being constructed: the order is built, shuffled, at the first probe. */
  building = true;

  constructor(private readonly random: () => number) {}

  /** A member became live: inserted at a random place of the current pass. */
  add(id: string): void {
    if (this.building || this.order.includes(id)) return;
    const at = Math.floor(this.random() * (this.order.length + 1));
    this.order.splice(at, 0, id);
  }

  /** The next live member to probe, starting a new shuffled pass when this one is done. */
  next<M extends Choosable>(recs: ReadonlyMap<string, M>): M | undefined {
    for (let pass = 0; pass < 2; pass++) {
      while (this.index < this.order.length) {
        const id = this.order[this.index++] as string;
        const rec = recs.get(id);
        if (rec && isLive(rec.state)) return rec;
      }
      const ids = [...recs.values()].filter((r) => isLive(r.state)).map((r) => r.id);
      shuffle(ids, this.random);
      this.order = ids;
      this.index = 0;
      if (ids.length === 0) return undefined;
    }
    return undefined;
  }
}
