/**
 * lib/sync/model-states.ts against what a hostile peer's frame can put in a ToldDot, and against the peer model as it
 * was (its entries in a plain Map): numbers a Float64Array may not give back as they went in (-0, NaN, ±Infinity,
 * counters and HLCs past 2^53), a dot naming an epoch, a ToldDot read and held while its slot is freed and taken again,
 * and — seeded, through PeerModel itself, a client's link and two of a relay's group (sent notes shared) — told / sent /
 * NEED / eviction past MAX_KEYS, each key's known state and each frame's forms the same as with the Map. A failing run prints its seed; SEED=<n> replays it.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { dropOldest } from '../../lib/evict.js';
import type { Kept } from '../../lib/sync/model-entry.js';
import { ModelStates } from '../../lib/sync/model-states.js';
import { ToldDot } from '../../lib/sync/one-dot.js';
import { EVICT, MAX_KEYS, PeerModel } from '../../lib/sync/peer-model.js';
import { prng, testSeed } from '../support/replicas.js';

/** Numbers as text that tells -0 from 0 and keeps NaN (toEqual alone is not what is asked: Object.is per field). */
function exact(x: unknown): unknown {
  if (typeof x === 'number') return Object.is(x, -0) ? '-0' : String(x);
  if (Array.isArray(x)) return x.map(exact);
  if (x !== null && typeof x === 'object') {
    const out: Record<string, unknown> = { cls: x.constructor?.name };
    for (const k of Object.keys(x).sort()) if (k !== 'plain') out[k] = exact((x as Record<string, unknown>)[k]);
    if (x instanceof ToldDot) Object.assign(out, { vs: exact(x.vs), cc: exact(x.cc), pts: exact(x.pts) });
    return out;
  }
  return x;
}

const HOSTILE = [-0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 53 + 2, 2 ** 64, Number.MAX_VALUE, Number.MIN_VALUE, -1, 0.5, 1_700_000_000_000.25];

describe('model-states under a hostile peer', () => {
  it('gives back every number a ToldDot held, exactly (Object.is), for a dot naming an epoch or none', () => {
    const m = new ModelStates(MAX_KEYS, EVICT);
    const dots: ToldDot[] = [];
    for (const n of HOSTILE) for (const t of HOSTILE) for (const ep of [undefined, 'e1']) dots.push(new ToldDot('w', ep, n, t, HOSTILE[(dots.length * 7) % HOSTILE.length]!));
    dots.forEach((d, i) => m.setNew('k' + i, d));
    expect(m.slotsInUse, 'all of them in columns').toBe(dots.length);
    dots.forEach((d, i) => expect(exact(m.get('k' + i)), `k${i}`).toEqual(exact(d)));
  });

  it('a ToldDot read and held is its own copy: its slot freed and taken by another key leaves it as it was', () => {
    const m = new ModelStates(8, 2);
    m.setNew('a', new ToldDot('ra', 'ea', 5, 1e12, 1));
    const held = m.get('a') as ToldDot;
    const before = exact(held);
    m.delete('a');
    m.setNew('b', new ToldDot('rb', undefined, 9, 2e12, 3)); // takes the freed slot
    expect(m.slotsMade).toBe(1);
    expect(exact(held)).toEqual(before);
    expect(m.get('a')).toBeUndefined();
    expect(exact(m.get('b'))).toEqual(exact(new ToldDot('rb', undefined, 9, 2e12, 3)));
  });

  it('PeerModel answers as with its entries in a Map, through told / sent / NEED / eviction (seeded)', () => {
    const seed = testSeed();
    console.log(`model-states attacks: seed ${seed} (SEED=${seed} replays)`);
    const rnd = prng(seed);
    const int = (n: number) => Math.floor(rnd() * n);
    const num = (usual: number) => (rnd() < 0.05 ? HOSTILE[int(HOSTILE.length)]! : usual);
    /** A key's state: mostly one writer's one version (a ToldDot when told), epochs named now and then, else several. */
    const state = (): KeyState => {
      const r = ['ra', 'rb', 'rc'][int(3)]!;
      const n = num(1 + int(50));
      const t = num(1_700_000_000_000 + int(1e6));
      const c = num(int(4));
      if (rnd() < 0.7) {
        if (rnd() < 0.2) return { vs: [{ r, ep: r + 'E', n, t, c }], cc: { [r]: n }, pts: { [r]: [{ e: r + 'E', n }] } };
        return { vs: [{ r, n, t, c }], cc: { [r]: n } };
      }
      const v2: StoredVersion = rnd() < 0.3 ? { r: 'rz', n: 2, t: t + 1, c: 0, d: 1 } : { r: 'rz', n: 2, t: t + 1, c: 0 };
      return { vs: [{ r, n, t, c }, v2], cc: { [r]: n, rz: 2 } };
    };
    const withValues = (s: KeyState): KeyState => ({ ...s, vs: s.vs.map((v) => (v.d ? v : { ...v, v: '"x"' })) });

    // A client's link (no group) and two links of a relay's group (their sent notes shared: sent-notes.ts), each twice.
    const groupNow = {};
    const groupWas = {};
    const links = [undefined, groupNow, groupNow].map((g) => {
      const now = new PeerModel();
      const was = new PeerModel();
      (was as unknown as { states: unknown }).states = new MapStates(MAX_KEYS, EVICT);
      if (g) {
        now.share(g);
        was.share(groupWas);
      }
      return { now, was };
    });
    const keys = MAX_KEYS + MAX_KEYS / 2; // evictions
    const space = (k: number) => (k % 17 === 0 ? 't' : 's');
    for (let step = 0; step < 60_000; step++) {
      const k = int(keys);
      const key = 'k' + k;
      const sp = space(k);
      const link = int(links.length);
      const { now, was } = links[link]!;
      const op = rnd();
      const where = `seed ${seed} (SEED=${seed} replays) step ${step} link ${link} ${sp}/${key}`;
      if (op < 0.5) {
        const s = state();
        const told = rnd() < 0.8;
        now.observe(sp, key, s, told);
        was.observe(sp, key, s, told);
      } else if (op < 0.75) {
        const entries = [[key, withValues(state())] as const];
        const repair = rnd() < 0.3;
        const a = now.forms(sp, entries, repair);
        const b = was.forms(sp, entries, repair);
        expect([...a.forms.values()].map((f) => f.kind), `${where}: forms`).toEqual([...b.forms.values()].map((f) => f.kind));
        expect(a.bad, `${where}: bad`).toEqual(b.bad);
        now.sent(sp, entries, a.forms);
        was.sent(sp, entries, b.forms);
      } else if (op < 0.8) {
        now.needWhole(sp, key, '');
        was.needWhole(sp, key, '');
      } else expect(exact(now.known(sp, key)), `${where}: known`).toEqual(exact(was.known(sp, key)));
    }
    for (const [i, { now, was }] of links.entries()) {
      for (let k = 0; k < keys; k++) expect(exact(now.known(space(k), 'k' + k)), `seed ${seed}: end, link ${i}, k${k}`).toEqual(exact(was.known(space(k), 'k' + k)));
    }
  });
});

/** The peer model's entries as they were before model-states.ts: one Map in recency order, setRecent / setNew / dropOldest. */
class MapStates {
  private readonly map = new Map<string, Kept>();
  constructor(
    private readonly maxKeys: number,
    private readonly evict: number,
  ) {}
  get size(): number {
    return this.map.size;
  }
  get(id: string): Kept | undefined {
    return this.map.get(id);
  }
  delete(id: string): void {
    this.map.delete(id);
  }
  setRecent(id: string, e: Kept): void {
    this.map.delete(id);
    this.setNew(id, e);
  }
  setNew(id: string, e: Kept): void {
    this.map.set(id, e);
    if (this.map.size > this.maxKeys) dropOldest(this.map, this.evict);
  }
}
