/**
 * lib/sync/one-dot.ts: the peer model keeps the dots of a state of one live version whose own dot is its whole context
 * (most keys) as that dot alone. Every client of a relay models each key the relay sends it, so what a modeled key
 * leaves on the heap is what the client's young-generation collections copy (bench S7, bench/floor/s7-tail.mjs): held
 * here to a bound, with every field read as the plain dots give it, and every other shape kept as plain dots.
 */
import { setFlagsFromString, getHeapStatistics } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { EMPTY_STATE, joinWith, sameState, type KeyState } from '../../lib/dvv.js';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import { OneDot } from '../../lib/sync/one-dot.js';
import { dotsOf, MAX_KEYS, PeerModel } from '../../lib/sync/peer-model.js';

const T = 1_700_000_000_000;
const W = 'writerW';
/** A state as a frame decodes it: a tagged writer's write, its context that one point (a relay's fan-out, protocol 11). */
const tagged = (n: number, ep = 'E1'): KeyState => ({ vs: [{ r: W, ep, n, t: T + n, c: n % 3, v: `{"n":${n}}` }], cc: { [W]: n }, pts: { [W]: [{ e: ep, n }] } });
const untagged = (n: number): KeyState => ({ vs: [{ r: W, n, t: T + n, c: 0, v: `{"n":${n}}` }], cc: { [W]: n } });

/** The dots as plain fields (what reads them sees). */
const fields = (d: KeyState) => ({ vs: d.vs, cc: d.cc, pts: d.pts });

describe('the peer model keeps one-dot states as their dot (one-dot.ts)', () => {
  it('a key told by the peer costs the heap its dot and the maps, not the plain dots with the decoded context', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const m = new PeerModel();
    const N = MAX_KEYS - 96; // none evicted
    m.observe('s', 'warm', tagged(1), true);
    gc();
    gc();
    const before = getHeapStatistics().used_heap_size;
    // Each state made here and let go once observed, as a decoded frame's is.
    for (let i = 0; i < N; i++) m.observe('s', `k${i}`, tagged(i + 2), true);
    gc();
    gc();
    const perKey = (getHeapStatistics().used_heap_size - before) / N;
    // The dot (~90 bytes and its boxed HLC), the key's id and its entries in both maps: ~250. As plain dots sharing the
    // decoded context it was ~480 (the state, its versions' array and store, the dot and its HLC, the context, the
    // points, their array and store, the point).
    expect(perKey).toBeLessThan(330);
    expect(fields(m.known('s', `k${N - 1}`)!)).toEqual(fields(dotsOfPlain(tagged(N + 1))));
  });

  it('reads as the plain dots, made once; a later state of the key joins into it', () => {
    for (const s of [tagged(5), untagged(5)]) {
      const d = dotsOf(s);
      expect(d).toBeInstanceOf(OneDot);
      expect(fields(d)).toEqual(fields(dotsOfPlain(s)));
      expect(d.vs).toBe(d.vs);
      expect(d.cc).toBe(d.cc);
      expect(d.pts).toBe(d.pts);
      expect(sameState(d, s)).toBe(true);
      expect('v' in d.vs[0]!, 'no value pinned').toBe(false);
    }
    const m = new PeerModel();
    m.observe('s', 'k', tagged(5), true);
    m.observe('s', 'k', { vs: [{ r: 'other', n: 1, t: T, c: 0, v: '"o"' }], cc: { [W]: 5, other: 1 }, pts: { [W]: [{ e: 'E1', n: 5 }] } }, true);
    const joined = joinWith(NO_EPOCHS, joinWith(NO_EPOCHS, EMPTY_STATE, tagged(5)), { vs: [{ r: 'other', n: 1, t: T, c: 0 }], cc: { [W]: 5, other: 1 }, pts: { [W]: [{ e: 'E1', n: 5 }] } });
    expect(fields(m.known('s', 'k')!)).toEqual(fields(dotsOfPlain(joined)));
  });

  it('every other shape stays plain dots', () => {
    const v = { r: W, n: 4, t: T, c: 0, v: '"x"' };
    const others: KeyState[] = [
      { vs: [{ ...v, d: 1 }], cc: { [W]: 4 } }, // a tombstone
      { vs: [v], cc: { [W]: 6 } }, // a context above the dot
      { vs: [v], cc: { [W]: 4, other: 2 } }, // another writer in the context
      { vs: [v], cc: {} }, // an empty context
      { vs: [v], cc: { [W]: 4 }, pts: { [W]: [{ e: 'E1', n: 4 }] } }, // an untagged dot with a point naming an epoch
      { vs: [{ ...v, ep: 'E1' }], cc: { [W]: 4 }, pts: { [W]: [{ e: 'E2', n: 4 }] } }, // its point naming another epoch
      { vs: [{ ...v, ep: 'E1' }], cc: { [W]: 4 }, pts: { [W]: [{ e: '', n: 2 }, { e: 'E1', n: 4 }] } }, // two points
      { vs: [{ ...v, ep: 'E1' }], cc: { [W]: 4 } }, // a tagged dot without its point
      { vs: [v, { ...v, r: 'other', n: 1 }], cc: { [W]: 4, other: 1 } }, // two versions
      { vs: [], cc: { [W]: 4 } }, // none
    ];
    for (const s of others) {
      const d = dotsOf(s);
      expect(d).not.toBeInstanceOf(OneDot);
      expect(d).toEqual(dotsOfPlain(s));
    }
  });
});

/** The plain dots of a state (peer-model.ts dotsOf as it was for every shape). */
function dotsOfPlain(s: KeyState): KeyState {
  const vs = s.vs.map(({ r, ep, n, t, c, d }) => ({ r, ...(ep !== undefined ? { ep } : {}), n, t, c, ...(d ? { d: 1 as const } : {}) }));
  return s.pts !== undefined ? { vs, cc: s.cc, pts: s.pts } : { vs, cc: s.cc };
}
