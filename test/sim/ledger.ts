/**
 * The no-lost-write oracle. Each replica's storage is wrapped (`ledger.spy`) so every record a transaction
 * replaces is seen with the record it replaced. A version disappears from a key's state in exactly two ways:
 *
 *   a local write superseded it   the write's new dot is in the record; the versions of the old record
 *                                 missing from the new one are what its context covered → `superseded`
 *   a join dropped it             legitimate only if some local write somewhere superseded that dot
 *
 * So at the end: every dot a join (or a removal) dropped must be in `superseded`, and every write whose
 * promise resolved must, on every replica, still be a version of its key or be in `superseded`. A write
 * with an explicit context supersedes nothing but the versions the read behind that context saw.
 */
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';

export type Dot = string;

export const dotOf = (r: string, n: number): Dot => `${r}:${n}`;

export interface ResolvedWrite {
  node: string;
  space: string;
  key: string;
  dot: Dot;
  what: string;
  /** For a write with an explicit context: the versions the read behind that context saw (all it may supersede). */
  mayCover?: ReadonlySet<Dot>;
}

interface Drop {
  node: string;
  space: string;
  key: string;
  dot: Dot;
  how: 'join' | 'remove';
  tombstone: boolean;
}

const id = (space: string, key: string) => `${space}\u0000${key}`;

export class Ledger {
  private readonly superseded = new Map<string, Set<Dot>>();
  /** Per local write (its new dot): the dots it superseded. */
  private readonly byWriter = new Map<Dot, Dot[]>();
  private readonly drops: Drop[] = [];
  readonly writes: ResolvedWrite[] = [];

  /** Wraps `inner` so the ledger sees every record replaced on `node`, whose replicaId `owner()` gives. */
  spy(node: string, inner: StorageAdapter, owner: () => string | undefined): StorageAdapter {
    const observe = (space: string, key: string, prev: KeyRecord | undefined, next: KeyRecord | null) => {
      const me = owner();
      const gone = (prev?.vs ?? []).filter((v) => !next?.vs.some((u) => u.r === v.r && u.n === v.n));
      if (gone.length === 0) return;
      const local = next !== null && me !== undefined && next.vs.some((v) => v.r === me && v.n === next.seq && !prev?.vs.some((u) => u.r === me && u.n === v.n));
      if (local) {
        const mine = next.vs.find((v) => v.r === me && v.n === next.seq)!;
        this.byWriter.set(dotOf(mine.r, mine.n), gone.map((v) => dotOf(v.r, v.n)));
        let set = this.superseded.get(id(space, key));
        if (!set) this.superseded.set(id(space, key), (set = new Set()));
        for (const v of gone) set.add(dotOf(v.r, v.n));
      } else {
        for (const v of gone) this.drops.push({ node, space, key, dot: dotOf(v.r, v.n), how: next ? 'join' : 'remove', tombstone: v.d === 1 });
      }
    };
    const wrapTx = (tx: StorageTx): StorageTx => {
      const read = new Map<string, KeyRecord | undefined>();
      return {
        async get(space, key) {
          const rec = await tx.get(space, key);
          if (!read.has(id(space, key))) read.set(id(space, key), rec);
          return rec;
        },
        put(space, key, rec) {
          observe(space, key, read.get(id(space, key)), rec);
          read.set(id(space, key), rec);
          tx.put(space, key, rec);
        },
        remove(space, key) {
          observe(space, key, read.get(id(space, key)), null);
          read.set(id(space, key), undefined);
          tx.remove(space, key);
        },
        getMeta: (name) => tx.getMeta(name),
        setMeta: (name, value) => tx.setMeta(name, value),
      };
    };
    // `observe` runs inside the transaction; a transaction that throws is not committed, but the
    // engine's transactions only throw before their puts, so what the ledger saw was stored.
    return {
      open: () => inner.open(),
      transact: (fn) => inner.transact((tx) => fn(wrapTx(tx))),
      get: (space, key) => inner.get(space, key),
      getMeta: (name) => inner.getMeta(name),
      scan: (space, options) => inner.scan(space, options),
      readLog: (space, after, limit) => inner.readLog(space, after, limit),
      index: (space) => inner.index(space),
      spaces: () => inner.spaces(),
      close: () => inner.close(),
    };
  }

  record(write: ResolvedWrite): void {
    this.writes.push(write);
  }

  private wasSuperseded(space: string, key: string, dot: Dot): boolean {
    return this.superseded.get(id(space, key))?.has(dot) ?? false;
  }

  /**
   * Violations of the oracle, given each node's final dots per key (`finals.get(node)(space, key)`).
   * Tombstones dropped outright (tombstone GC) are allowed.
   */
  violations(finals: Map<string, (space: string, key: string) => ReadonlySet<Dot>>): string[] {
    const out: string[] = [];
    for (const d of this.drops) {
      if (d.how === 'remove' && d.tombstone) continue;
      if (!this.wasSuperseded(d.space, d.key, d.dot)) out.push(`${d.node}: a ${d.how} dropped ${d.key}@${d.dot}, which no write superseded`);
    }
    for (const w of this.writes) {
      const over = w.mayCover ? (this.byWriter.get(w.dot) ?? []).filter((d) => !w.mayCover!.has(d)) : [];
      if (over.length) out.push(`${w.what} by ${w.node} (${w.key}@${w.dot}) superseded ${over.join(' ')}, outside its context`);
      if (this.wasSuperseded(w.space, w.key, w.dot)) continue;
      for (const [node, dots] of finals) {
        if (!dots(w.space, w.key).has(w.dot)) out.push(`lost write: ${w.what} by ${w.node} (${w.key}@${w.dot}) is missing on ${node} and no write superseded it`);
      }
    }
    return out;
  }
}
