// A peer away while a document took hundreds of writes (thousands of keystrokes, seeded): on its return it catches up
// with about the document's state on the wire — not every version of the chain — and its doc shows the text exact.
// Passes on main (no defect: ~190 B over the state, SEED=55036033); fails if the catch-up sent the chain's versions
// whole (their sum is ~150 × the state here) or lost an edit.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { prng, testSeed } from '../support/replicas.js';
import { synced, tapped, until } from '../sync/support.js';

const SEED = testSeed();
const KEY = 'docs/away';

describe('a peer away for a long chain of document writes', () => {
  it('catches up with about the state in bytes, and the text is exact', async () => {
    const rnd = prng(SEED);
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    let toB = 0;
    const connect = (count: boolean) => {
      const [ta, tb] = pairTransports();
      const la = a.connect(tapped(ta, (f, conn) => ((count && (toB += typeof f === 'string' ? f.length : f.byteLength)), conn.send(f))), { antiEntropyInterval: 0 });
      const lb = b.connect(tb, { antiEntropyInterval: 0 });
      return () => (la.close(), lb.close());
    };
    let stop = connect(false);
    const da = await openDoc(a.space('s'), KEY, { writeDelay: 0 });
    const db = await openDoc(b.space('s'), KEY, { writeDelay: 0 });
    try {
      da.getText('t').insert(0, 'start ');
      await flushDoc(da);
      await until(() => db.getText('t').toString() === 'start ', 'the first line on b');
      await synced(a, b);
      stop();
      // Away: 3000 keystrokes on a, written in 300 writes.
      const t = da.getText('t');
      let written = 0;
      for (let i = 0; i < 3000; i++) {
        if (t.length > 20 && rnd() < 0.25) t.delete(Math.floor(rnd() * t.length), 1);
        else t.insert(Math.floor(rnd() * (t.length + 1)), String.fromCharCode(97 + Math.floor(rnd() * 26)));
        if (i % 10 === 9) {
          await flushDoc(da);
          written++;
        }
      }
      const state = Y.encodeStateAsUpdate(da).length;
      stop = connect(true);
      const want = t.toString();
      await until(() => db.getText('t').toString() === want, `SEED=${SEED}: b's doc caught up`, 20_000).catch(() => undefined);
      expect(db.getText('t').toString(), `SEED=${SEED}`).toBe(want);
      await synced(a, b);
      expect(written).toBe(300);
      expect(toB, `SEED=${SEED}: ${toB} B to b for a state of ${state} B after ${written} writes`).toBeLessThanOrEqual(1.25 * state + 2048);
    } finally {
      stop();
      da.destroy();
      db.destroy();
      await a.close();
      await b.close();
    }
  });
});
