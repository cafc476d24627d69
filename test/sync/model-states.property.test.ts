/**
 * lib/sync/model-states.ts: the peer model's entries, a ToldDot kept in columns (its numbers in Float64Arrays, its
 * writer in a plain array, a slot per key). Seeded and differential: a random sequence of what the peer model does to
 * its entries — a key told (a fresh ToldDot, or joined into a Apart or a plain state), sent (joined, its told kept),
 * joined again, deleted (NEED), and the least recent evicted past the bound — leaves a ModelStates answering every key
 * with an entry equal in every field to what the old representation (a Map of the entries, setRecent / setNew /
 * dropOldest as peer-model.ts had them) answers, and exactly one slot taken per entry kept in columns.
 *
 * A failing run prints its seed; SEED=<n> replays it. Mutants it catches (checked by hand): a slot not freed on eviction,
 * on delete, or when its key takes an entry of another kind; t and c swapped in the columns; the shared writer reused
 * across epochs (the epoch not compared).
 */
import { queryObjects } from 'node:v8';
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { dropOldest } from '../../lib/evict.js';
import { Apart, type Kept } from '../../lib/sync/model-entry.js';
import { ModelStates } from '../../lib/sync/model-states.js';
import { OneDot, ToldDot } from '../../lib/sync/one-dot.js';
import { MAX_KEYS, PeerModel } from '../../lib/sync/peer-model.js';
import { prng, testSeed } from '../support/replicas.js';

type Rand = () => number;
const int = (rnd: Rand, n: number) => Math.floor(rnd() * n);
const pick = <X>(rnd: Rand, xs: readonly X[]): X => xs[int(rnd, xs.length)]!;
const T = 1_700_000_000_000;

/** A one-dot state's dot: writers and epochs from small pools (the shared writer changes often), HLCs above 2^31. */
function toldDot(rnd: Rand): ToldDot {
  const r = pick(rnd, ['ra', 'rb', 'rc']);
  const ep = pick(rnd, [undefined, undefined, r + '1', r + '2']);
  // Now and then a field a peer's frame could carry that the columns do not hold (kept as the object it is).
  const c = rnd() < 0.03 ? ('x' as unknown as number) : int(rnd, 5);
  return new ToldDot(r, ep, 1 + int(rnd, 1000), T + int(rnd, 1e6) + rnd(), c);
}

/** An entry of another kind: plain dots of several writers, a OneDot (not told), an Apart. */
function otherEntry(rnd: Rand): Kept {
  const x = int(rnd, 3);
  const plain: KeyState = { vs: [{ r: 'ra', n: 1, t: T, c: 0 }, { r: 'rb', n: 2, t: T + 1, c: 0 }], cc: { ra: 1, rb: 2 } };
  if (x === 0) return plain;
  if (x === 1) return new OneDot('rb', undefined, 3, T + 3, 1);
  return new Apart(plain, toldDot(rnd));
}

/** Every field of an entry as its reader sees it (a ToldDot's made state included), with its class. */
function fields(e: Kept | undefined): unknown {
  if (e === undefined) return undefined;
  if (e instanceof ToldDot) return { cls: 'ToldDot', r: e.r, ep: e.ep, n: e.n, t: e.t, c: e.c, vs: e.vs, cc: e.cc, pts: e.pts };
  return e;
}

const inColumns = (e: Kept) => e instanceof ToldDot && [e.n, e.t, e.c].every((x) => typeof x === 'number');

describe('the peer model keeps a told dot in columns (model-states.ts)', () => {
  it('answers every key as the old map of entries does, through told / sent / joined / deleted / evicted keys', () => {
    const seed = testSeed();
    console.log(`model-states property: seed ${seed} (SEED=${seed} replays)`);
    const rnd = prng(seed);
    for (const [maxKeys, evict] of [[16, 2], [40, 5], [7, 7]] as const) {
      const m = new ModelStates(maxKeys, evict);
      const ref = new Map<string, Kept>();
      const setRecent = (id: string, e: Kept) => {
        ref.delete(id);
        ref.set(id, e);
        if (ref.size > maxKeys) dropOldest(ref, evict);
        m.setRecent(id, e);
      };
      for (let step = 0; step < 6000; step++) {
        const id = 'k' + int(rnd, maxKeys * 3);
        const op = rnd();
        if (op < 0.45) {
          // told: a fresh key's ToldDot (setNew), else the key's entry joined with it
          if (!ref.has(id)) {
            const d = toldDot(rnd);
            ref.set(id, d);
            if (ref.size > maxKeys) dropOldest(ref, evict);
            m.setNew(id, d);
          } else setRecent(id, rnd() < 0.7 ? toldDot(rnd) : otherEntry(rnd));
        } else if (op < 0.65) setRecent(id, otherEntry(rnd)); // sent, or joined into several writers' dots
        else if (op < 0.8) setRecent(id, toldDot(rnd)); // joined back to one told dot
        else if (op < 0.9) {
          ref.delete(id); // NEED: the key goes
          m.delete(id);
        } else expect(fields(m.get(id)), `seed ${seed} step ${step}: read ${id}`).toEqual(fields(ref.get(id)));
        const where = `seed ${seed} (SEED=${seed} replays) bound ${maxKeys}/${evict} step ${step}`;
        expect(m.size, where).toBe(ref.size);
        expect(m.slotsInUse, `${where}: a slot per entry in columns`).toBe([...ref.values()].filter(inColumns).length);
        expect(m.slotsMade, `${where}: freed slots taken again`).toBeLessThanOrEqual(maxKeys + 1);
      }
      // Every key, in the end: the same entries kept, and each read equal in every field.
      for (let k = 0; k < maxKeys * 3; k++) expect(fields(m.get('k' + k)), `seed ${seed} bound ${maxKeys}: k${k}`).toEqual(fields(ref.get('k' + k)));
    }
  });

  it('a key told by the peer leaves no object of its dot on the heap (the map holds its slot)', () => {
    const N = MAX_KEYS - 96; // none evicted
    const state = (n: number): KeyState => ({ vs: [{ r: 'w', n, t: T + n, c: 0, v: `{"n":${n}}` }], cc: { w: n } });
    const m = new PeerModel();
    // Counted live by V8 (after a full collection): none kept but what a read makes and lets go.
    const before = queryObjects(ToldDot, { format: 'count' }) as number;
    for (let i = 0; i < N; i++) m.observe('s', `key-${i}`, state(i + 2), true);
    const after = queryObjects(ToldDot, { format: 'count' }) as number;
    expect(after - before, 'ToldDots kept for the keys told').toBeLessThan(4);
    expect(m.known('s', `key-${N - 1}`)).toEqual(new ToldDot('w', undefined, N + 1, T + N + 1, 0));
  });
});
