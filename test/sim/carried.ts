/**
 * What became of a node's own dots of a key (ledger.ts keeps one of these, fed by its storage spy): the synced-durable
 * check (synced-check.ts) follows a write through them to the state of its key that holds it now.
 *
 *   superseded   a local write of the key superseded the dot (its context covers it)
 *   re-issued    a re-identification re-issued the dot's version under a new id (lib/reidentify.ts), and took the old
 *                counter out of the record's context (dvv.ts stripOwnDots); `w.synced` follows (lib/acks.ts reissued)
 *   lowered      a re-identification took the counter out of the record's context with no version to re-issue (a
 *                collected delete): the write lives on in that lowered state only
 *
 * By node and key, as a restore can mint a dot again.
 */
import type { KeyRecord } from '../../lib/storage.js';
import { dotOf, versionDot, type Dot } from './ledger.js';

/** A key's state by its versions' dots and its context. */
export interface CarriedState {
  dots: readonly Dot[];
  cc: Readonly<Record<string, number>>;
}

const at = (node: string, space: string, key: string, dot: Dot) => `${node}\u0000${space}\u0000${key}\u0000${dot}`;

export class Carried {
  /** Dot → the local writes it lives on in (superseded by, or re-issued as: the record's new version at its seq, the
   * newest a re-issue minted there — a state holding it holds every version re-issued in that record). */
  private readonly on = new Map<string, Dot[]>();
  /** Dot → the lowered states it lives on in. */
  private readonly states = new Map<string, CarriedState[]>();

  /** The versions `gone` from `node`'s record of the key live on in its local write `mine` (superseded, re-issued). */
  carry(node: string, space: string, key: string, gone: ReadonlyArray<{ r: string; n: number; ep?: string }>, mine: Dot): void {
    for (const v of gone) {
      const k = at(node, space, key, versionDot(v));
      this.on.set(k, [...(this.on.get(k) ?? []), mine]);
    }
  }

  /** Own dots (`isOwn`) `prev`'s context covers above `next`'s, that no version of `prev` holds: what a lowering drops. */
  static lowered(prev: KeyRecord | undefined, next: KeyRecord | null, isOwn: (r: string) => boolean): Dot[] {
    const out: Dot[] = [];
    for (const [r, top] of Object.entries(prev?.cc ?? {})) {
      if (next === null || !isOwn(r) || (next.cc[r] ?? 0) >= top) continue;
      for (let n = (next.cc[r] ?? 0) + 1; n <= top; n++) if (!prev!.vs.some((v) => v.r === r && v.n === n)) out.push(dotOf(r, n));
    }
    return out;
  }

  /** The `lowered` dots of `node`'s key live on in the state `next`. */
  lower(node: string, space: string, key: string, lowered: readonly Dot[], next: KeyRecord): void {
    const state = { dots: next.vs.map(versionDot), cc: { ...next.cc } };
    for (const d of lowered) {
      const k = at(node, space, key, d);
      this.states.set(k, [...(this.states.get(k) ?? []), state]);
    }
  }

  /** `dot`, then (transitively) every dot of `node`'s key it lives on in. */
  chain(node: string, space: string, key: string, dot: Dot): Dot[] {
    const chain = [dot];
    for (let i = 0; i < chain.length; i++) for (const d of this.on.get(at(node, space, key, chain[i]!)) ?? []) if (!chain.includes(d)) chain.push(d);
    return chain;
  }

  /** The lowered states the dots of `chain` live on in: a state descending from one holds what they did. */
  statesOf(node: string, space: string, key: string, chain: readonly Dot[]): CarriedState[] {
    return chain.flatMap((d) => this.states.get(at(node, space, key, d)) ?? []);
  }
}
