// A Yjs delta's size bound (the 'yjs' type's applySize) against hostile documents: a receiver stores a delta as it
// came and applies it only when read, trusting applySize to bound what it makes (lib/deltas.ts checkReceived: a tiny
// delta must not expand into a value past maxValueBytes). A delete set of 2-byte ranges, each splitting an item of a
// long string whose ids are large (an origin and a right origin of ~9 bytes each), makes ~19 bytes per delta byte:
// the old bound (8 per byte) let a replica store a document over its maxValueBytes, which it then cannot send whole.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { yjsType, yjsValue } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { pairTransports } from '../../lib/index.js';
import { prng, testSeed } from '../support/replicas.js';
import { synced, until } from '../sync/support.js';

const SEED = testSeed();
const KEY = 'docs/hostile';

/** A document of `clients` writers with (hostile) large client ids, each inserting a run before the last. */
function hostileBase(rnd: () => number, clients: number, run: number, worst = false): Uint8Array {
  const first = new Y.Doc();
  first.clientID = 1;
  first.getText('t').insert(0, 'z');
  let state = Y.encodeStateAsUpdate(first);
  for (let c = 0; c < clients; c++) {
    const w = new Y.Doc();
    Y.applyUpdate(w, state);
    w.clientID = worst || rnd() < 0.5 ? 2 ** 52 + Math.floor(rnd() * 2 ** 30) : 1 + Math.floor(rnd() * 2 ** 31);
    const t = w.getText('t');
    const at = worst || rnd() < 0.7 ? 0 : Math.floor(rnd() * (t.length + 1));
    t.insert(at, !worst && rnd() < 0.2 ? '😀'.repeat(run >> 1) : 'x'.repeat(run));
    state = Y.encodeStateAsUpdate(w);
    w.destroy();
  }
  first.destroy();
  return state;
}

/** A delta against `base`: scattered deletions (many short ranges) and inserts into the middle of items. */
function hostileDelta(rnd: () => number, base: Uint8Array, worst = false): Uint8Array {
  const e = new Y.Doc();
  Y.applyUpdate(e, base);
  e.clientID = 2 ** 52 + 7;
  const updates: Uint8Array[] = [];
  e.on('update', (u: Uint8Array) => updates.push(u));
  const t = e.getText('t');
  const step = worst ? 2 : 2 + Math.floor(rnd() * 3);
  const inserts = !worst && rnd() < 0.5;
  e.transact(() => {
    for (let i = t.length - step; i >= 0; i -= step) {
      if (worst || rnd() < 0.9) t.delete(i, 1);
      if (inserts && rnd() < 0.2) t.insert(i, 'q');
    }
  });
  e.destroy();
  return Y.mergeUpdates(updates);
}

describe("the 'yjs' type's applySize bounds what a delta makes", () => {
  it('for hostile bases and deltas (seeded): apply(base, delta) is never larger than applySize says', () => {
    const rnd = prng(SEED);
    for (let i = 0; i < 24; i++) {
      const base = hostileBase(rnd, 1 + Math.floor(rnd() * 40), 16 + Math.floor(rnd() * 112));
      const delta = hostileDelta(rnd, base);
      const made = yjsType.encode(yjsType.apply!(yjsValue(base), delta));
      const bound = yjsType.applySize!(base.length, delta);
      expect(made.length, `SEED=${SEED} run ${i}: base ${base.length} B, delta ${delta.length} B makes ${made.length} B, bound ${bound}`).toBeLessThanOrEqual(bound);
    }
  });

  it('a replica never stores a delta that makes a document over its maxValueBytes (refused; the document comes whole, as any whole value)', async () => {
    const rnd = prng(SEED + 1);
    const base = hostileBase(rnd, 100, 127, true);
    const delta = hostileDelta(rnd, base, true);
    const limit = 200_000;
    // The writer's own limit is the default: it stores what it writes; the receiver's is `limit`.
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage(), maxValueBytes: limit });
    const sa = a.space('s');
    const sb = b.space('s');
    const [ta, tb] = pairTransports();
    const la = a.connect(ta, { antiEntropyInterval: 0 });
    const lb = b.connect(tb, { antiEntropyInterval: 0 });
    try {
      await sa.put(KEY, yjsValue(base));
      await synced(a, b);
      await until(async () => (await sb.get(KEY)) !== undefined, 'the base on b');
      await sa.writeWith(KEY, () => ({ delta, type: 'yjs' }));
      const made = (await sa.get(KEY))!.value as Uint8Array;
      expect(made.length, `SEED=${SEED}: the hostile delta must make a document over b's limit`).toBeGreaterThan(limit);
      // b refuses the delta alone (rev50: the link stays) and asks for the key whole: a's document comes as its whole
      // value, taken as any received whole value is (up to 4 × maxValueBytes a frame); no derivation of it is stored.
      await until(async () => (await b.core.storage.get('s', KEY))?.vs.some((v) => v.n > 1 || v.r !== a.replicaId) ?? false, 'the whole document on b', 10_000);
      const rec = (await b.core.storage.get('s', KEY))!;
      expect(rec.vs.every((v) => v.x === undefined), `SEED=${SEED}: b stored the hostile delta`).toBe(true);
      const held = (await sb.get(KEY))!.value as Uint8Array;
      const text = (u: Uint8Array) => {
        const d = new Y.Doc();
        Y.applyUpdate(d, u);
        return d.getText('t').toString();
      };
      expect(text(held), `SEED=${SEED}: b holds a's document`).toBe(text(made));
      expect(held.length).toBeLessThanOrEqual(4 * limit);
    } finally {
      la.close();
      lb.close();
      await a.close();
      await b.close();
    }
  });
});
