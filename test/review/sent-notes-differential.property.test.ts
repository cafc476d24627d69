/**
 * Review of lib/sync/sent-notes.ts, differential: the links of one group (a relay's sessions, PeerModel.share) must each
 * answer what a link keeping everything in its own map answers (a link of no group, as before sent-notes), while no
 * map is past MAX_KEYS. A seeded schedule of fan-outs (one entry object handed to several links in turn, its forms
 * asked and then noted sent, as outgoing.ts does; now and then a state of each link's own, as a context alone is),
 * the peer's own states (observe, told or not), NEED (needWhole), in two spaces and under a key spelled like another
 * space's id; after every step each link's `known` of every key and the forms of a state of it are compared.
 *
 * A failing run prints its seed; SEED=<n> replays it. Mutants of sent-notes.ts it catches (checked by hand): a note's
 * bit ignored, `forget` clearing nothing, a new note not made the cache's (`lastNote`), CHAIN past its bound keeping
 * nothing.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import type { Entry } from '../../lib/sync/messages.js';
import { PeerModel } from '../../lib/sync/peer-model.js';
import { prng, testSeed } from '../support/replicas.js';

type Rand = () => number;
const int = (rnd: Rand, n: number) => Math.floor(rnd() * n);
const pick = <X>(rnd: Rand, xs: readonly X[]): X => xs[int(rnd, xs.length)]!;

const IDS = ['ra', 'rb', 'rc'];
const SPACES = ['s', 't'];
const KEYS = ['k0', 'k1', 'k2', '\u0000t\u0000k0'];
const LINKS = 5;

/** A state of a key as writers leave it: a version or a few (some tombstones), a context over them. */
function anyState(rnd: Rand): KeyState {
  const vs: StoredVersion[] = [];
  const cc: Record<string, number> = {};
  for (const r of IDS) {
    if (rnd() < 0.4) continue;
    const n = 1 + int(rnd, 6);
    cc[r] = n + int(rnd, 2);
    if (rnd() < 0.7) vs.push(rnd() < 0.15 ? { r, n, t: n, c: 0, d: 1 } : { r, n, t: n, c: 0, v: `{"n":${n}}` });
  }
  return { vs, cc };
}

const fields = (s: KeyState | undefined) => s && { vs: s.vs.map(({ r, n, d }) => [r, n, d]), cc: s.cc };
const formsOf = (m: PeerModel, space: string, entry: Entry, repair: boolean) => [...m.forms(space, [entry], repair).forms].map(([v, f]) => [v.r, v.n, f.kind]);

/** Each link's answers through the schedule, its model in a group of `LINKS` (`grouped`) or each of its own. */
function run(seed: number, grouped: boolean): unknown[] {
  const rnd = prng(seed);
  const owner = {};
  const links = Array.from({ length: LINKS }, () => {
    const m = new PeerModel();
    if (grouped) m.share(owner);
    return m;
  });
  const out: unknown[] = [];
  for (let step = 0; step < 200; step++) {
    const space = pick(rnd, SPACES);
    const key = pick(rnd, KEYS);
    switch (int(rnd, 6)) {
      case 0:
      case 1:
      case 2: {
        // A fan-out: one entry to a few links in turn (forms asked, then noted sent); one in five a state of its own.
        const entry: Entry = [key, anyState(rnd)];
        for (const m of links) {
          if (rnd() < 0.3) continue;
          const e: Entry = rnd() < 0.2 ? [key, anyState(rnd)] : entry;
          const repair = rnd() < 0.2;
          const { forms } = m.forms(space, [e], repair);
          out.push([...forms].map(([v, f]) => [v.r, v.n, f.kind]));
          m.sent(space, [e], forms);
        }
        break;
      }
      case 3:
      case 4:
        pick(rnd, links).observe(space, key, anyState(rnd), rnd() < 0.6);
        break;
      default:
        pick(rnd, links).needWhole(space, key, '');
    }
    const probe: Entry = [pick(rnd, KEYS), anyState(rnd)];
    for (const m of links) {
      for (const s of SPACES) for (const k of KEYS) out.push(fields(m.known(s, k)));
      out.push(formsOf(m, pick(rnd, SPACES), probe, false));
    }
  }
  return out;
}

describe("sent-notes: a group's links answer as links of their own", () => {
  it('through random fan-outs, states of the peers and NEEDs, every link knows and forms what a link of its own would', () => {
    const base = testSeed();
    for (let i = 0; i < 40; i++) {
      const seed = base + i;
      expect(run(seed, true), `seed ${seed} (SEED=${seed} replays)`).toEqual(run(seed, false));
    }
  });
});
