/**
 * lib/sync/model-entry.ts: the peer model keeps what it knows of the peer's state of a key (`states`) and what the peer
 * told of it (`told`) in one map entry, under the key itself where the key is of the link's first space. A client of a
 * relay keeps one per key the relay fans out to it, and what it keeps is what its young-generation collections copy
 * (bench S7, bench/floor/s7-tail.mjs): held here to a bound. Then the two kept apart must read as the two maps did,
 * whatever the order of what was sent and told, across spaces, for keys that look like another space's ids.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { coversDot, EMPTY_STATE, joinWith, sameState, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import type { Entry } from '../../lib/sync/messages.js';
import { MAX_KEYS, PeerModel } from '../../lib/sync/peer-model.js';
import { prng } from '../../lib/check-merge.js';

const T = 1_700_000_000_000;

describe('the peer model keeps states and told as one entry', () => {
  it('a key the peer told costs the heap its dot and one entry keyed by the key itself', () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const N = MAX_KEYS - 96; // none evicted
    // The keys and states made first and kept alive beside the model: the client's storage and frame hold them too.
    const keys = Array.from({ length: N }, (_, i) => `k${i}`);
    const states: KeyState[] = keys.map((_, i) => ({ vs: [{ r: 'writerW', n: i + 2, t: T + i, c: 0, v: `{"n":${i}}` }], cc: { writerW: i + 2 } }));
    const m = new PeerModel();
    m.observe('s', 'warm', states[0]!, true);
    gc();
    gc();
    const before = getHeapStatistics().used_heap_size;
    for (let i = 0; i < N; i++) m.observe('s', keys[i]!, states[i]!, true);
    gc();
    gc();
    const perKey = (getHeapStatistics().used_heap_size - before) / N;
    // Its dot (72 bytes and its boxed HLC) and one map entry keyed by the key: ~180 measured. Two maps' entries, an id
    // string made per key and the dot's three caches were ~250 (98fee83: 248).
    expect(perKey).toBeLessThan(215);
    expect(keys.length + states.length).toBe(2 * N);
  });

  it('one entry object handed to links of other first spaces in turn (a fan-out) is modeled under its own space on each', () => {
    const st = (n: number): KeyState => ({ vs: [{ r: 'w', n, t: T + n, c: 0, v: '"v"' }], cc: { w: n } });
    const x = new PeerModel();
    const y = new PeerModel();
    x.observe('a', 'k', st(1), true); // x's first space: a; y's: b
    y.observe('b', 'k', st(2), true);
    for (const [space, entry] of [['b', ['k', st(3)]], ['a', ['k', st(4)]], ['b', ['\u0000a\u0000k', st(5)]]] as const) {
      x.sent(space, [entry], new Map());
      y.sent(space, [entry], new Map());
    }
    const counter = (m: PeerModel, space: string, key: string) => m.known(space, key)?.cc.w;
    expect([counter(x, 'a', 'k'), counter(x, 'b', 'k'), counter(x, 'b', '\u0000a\u0000k')]).toEqual([4, 3, 5]);
    expect([counter(y, 'a', 'k'), counter(y, 'b', 'k'), counter(y, 'b', '\u0000a\u0000k')]).toEqual([4, 3, 5]);
    expect(x.known('a', '\u0000b\u0000k')).toBeUndefined();
  });

  it('reads as two maps would: states the join of all, told the join of what the peer told (seeded)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 100_000);
    const random = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    // Keys of the first space that look like ids of other spaces' keys, and keys starting with \0.
    const spaces = ['a', 'b'];
    const keys = ['x', 'y', 'b\u0000x', '\u0000b\u0000x', '\u0000', ''];
    const writers = ['p', 'q'];
    try {
      for (let run = 0; run < 20; run++) {
        const m = new PeerModel();
        const all = new PeerModel(); // every state observed untold: its states are the join of all
        const told = new Map<string, KeyState>(); // `space key` → the join of the states the peer told
        const whole = new Set<string>(); // asked for whole (NEED), not sent whole since: no held form
        const counters = new Map<string, number>();
        for (let op = 0; op < 60; op++) {
          const space = pick(spaces);
          const key = pick(keys);
          const r = pick(writers);
          const n = (counters.get(r) ?? 0) + 1 + Math.floor(random() * 2);
          counters.set(r, n);
          const cc: Record<string, number> = { [r]: n };
          if (random() < 0.4) cc[r === 'p' ? 'q' : 'p'] = counters.get(r === 'p' ? 'q' : 'p') ?? 0;
          const versions: StoredVersion[] = [{ r, n, t: T + op, c: 0, v: `"${op}"` }];
          const st: KeyState = { vs: random() < 0.2 ? [] : versions, cc };
          const what = random();
          if (what < 0.4) {
            m.observe(space, key, st, true);
            all.observe(space, key, st);
            told.set(`${space} ${key}`, joinWith(NO_EPOCHS, told.get(`${space} ${key}`) ?? EMPTY_STATE, st));
          } else if (what < 0.6) {
            m.observe(space, key, st);
            all.observe(space, key, st);
          } else if (what < 0.95) {
            m.sent(space, [[key, st]], new Map());
            all.observe(space, key, st);
            if (st.vs.length > 0) whole.delete(`${space} ${key}`);
          } else {
            m.needWhole(space, key, '');
            all.needWhole(space, key, '');
            told.delete(`${space} ${key}`);
            whole.add(`${space} ${key}`);
          }
          for (const s of spaces) {
            for (const k of keys) {
              const got = m.known(s, k);
              const want = all.known(s, k);
              expect(got === undefined, `${s} ${JSON.stringify(k)} known`).toBe(want === undefined);
              if (got && want) expect(sameState(got, want), `${s} ${JSON.stringify(k)} states`).toBe(true);
              // What the peer told decides a repair state's held forms: a probe of every dot written so far.
              const probe: Entry = [k, { vs: writers.flatMap((w) => Array.from({ length: counters.get(w) ?? 0 }, (_, i) => ({ r: w, n: i + 1, t: 0, c: 0, v: '"v"' }))), cc: {} }];
              const held = [...m.forms(s, [probe], true).forms.keys()].map((v) => `${v.r}${v.n}`).join();
              const t = whole.has(`${s} ${k}`) ? undefined : told.get(`${s} ${k}`);
              const heldWant = t ? probe[1].vs.filter((v) => t.vs.some((x) => x.r === v.r && x.n === v.n) || coversDot(NO_EPOCHS, t, v.r, undefined, v.n)) : [];
              expect(held, `${s} ${JSON.stringify(k)} told`).toBe(heldWant.map((v) => `${v.r}${v.n}`).join());
            }
          }
        }
      }
    } catch (e) {
      console.log(`peer-model-told-once: SEED=${seed}`);
      throw e;
    }
  });
});
