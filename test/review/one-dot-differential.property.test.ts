/**
 * Review rev48b of s7p's one-dot peer model (lib/sync/one-dot.ts): a state of one live version whose own dot is its
 * whole context is kept as a OneDot, whose fields are made when read. Seeded and differential: every operation the
 * peer model and what reads it do with a modeled state — sameState, joins either way, coverage of dots, dotTest, the
 * hash and its text, the context-is-dots test of the wire, anti-entropy's exchange, the context alone of fit-state and
 * the frame it encodes to — gives the same answer for the OneDot as for the plain dots of the same state. And a
 * PeerModel run through a random schedule of observe / sent / forms / needWhole / leftOut answers the same with one-dot
 * states as with every state kept as plain dots (OneDot.of answering undefined, as before s7p).
 *
 * A failing run prints its seed; SEED=<n> replays it. Mutants of one-dot.ts it catches (checked by hand): `pts` of an
 * untagged dot answering `{}`, `cc` naming the dot's counter + 1, OneDot.of taking a state whose context holds a second
 * replica, the tagged version made without its epoch.
 */
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { canonicalStateText, coversDot, dotTest, joinWith, namesEpochs, sameState, stateHash, type KeyState, type StoredVersion } from '../../lib/dvv.js';
import { NO_EPOCHS, type EpochRegistry } from '../../lib/epoch-points.js';
import { loadHasher } from '../../lib/hash.js';
import { exchange } from '../../lib/sync/antientropy.js';
import { contextAlone } from '../../lib/sync/fit-state.js';
import { encodeMessage, MsgType } from '../../lib/sync/messages.js';
import { OneDot } from '../../lib/sync/one-dot.js';
import { dotsOf, PeerModel } from '../../lib/sync/peer-model.js';
import { ccIsDots } from '../../lib/sync/wire-state.js';
import { readerEpochs } from '../support/epoch-reader.js';
import { prng, testSeed } from '../support/replicas.js';

const IDS = ['ra', 'rb', 'rc'];
/** Per replica its epochs: x1, then x2 forked from x1 at 4 (a restore), as a replica's registry records them. */
const REG: EpochRegistry = {
  parentOf: (r, e) => (e === r + '2' ? { parent: r + '1', fork: 4 } : undefined),
};
const T = 1_700_000_000_000;

type Rand = () => number;
const int = (rnd: Rand, n: number) => Math.floor(rnd() * n);
const pick = <X>(rnd: Rand, xs: readonly X[]): X => xs[int(rnd, xs.length)]!;

/** An epoch of replica r (undefined: untagged). */
const epochOf = (rnd: Rand, r: string): string | undefined => pick(rnd, [undefined, undefined, r + '1', r + '2']);

function version(rnd: Rand, r: string, ep: string | undefined, n: number): StoredVersion {
  const t = T + int(rnd, 50);
  const c = int(rnd, 3);
  const kind = int(rnd, 6);
  const base = ep === undefined ? { r, n, t, c } : { r, ep, n, t, c };
  if (kind === 0) return { ...base, d: 1 };
  if (kind === 1) return { ...base, v: Uint8Array.of(0, n) };
  return { ...base, v: `{"n":${n}}` };
}

/** One version, its own dot its whole context (a OneDot), or, one time in three, that shape bent one way. */
function oneDotish(rnd: Rand): KeyState {
  const r = pick(rnd, IDS);
  const ep = epochOf(rnd, r);
  const n = 1 + int(rnd, 9);
  const v = version(rnd, r, ep, n);
  const live = v.d ? { ...v, d: undefined, v: '"x"' } : v;
  delete (live as { d?: 1 }).d;
  const pts = ep === undefined ? undefined : { [r]: [{ e: ep, n }] };
  const plain: KeyState = pts ? { vs: [live], cc: { [r]: n }, pts } : { vs: [live], cc: { [r]: n } };
  if (int(rnd, 3) !== 0) return plain;
  const other = pick(rnd, IDS.filter((x) => x !== r));
  switch (int(rnd, 5)) {
    case 0:
      return { ...plain, cc: { ...plain.cc, [r]: n + 1 } };
    case 1:
      return { ...plain, cc: { ...plain.cc, [other]: 2 } };
    case 2:
      return { ...plain, vs: [v] }; // maybe a tombstone
    case 3:
      return pts ? { vs: [live], cc: { [r]: n } } : { ...plain, pts: { [r]: [{ e: r + '1', n }] } };
    default:
      return { ...plain, vs: [live, version(rnd, other, undefined, 1)].sort((a, b) => (a.r < b.r ? -1 : 1)), cc: { ...plain.cc, [other]: 1 } };
  }
}

/** A state of a key as several writers leave it: a few versions (some superseded), a context over them. */
function anyState(rnd: Rand): KeyState {
  if (int(rnd, 3) === 0) return oneDotish(rnd);
  const vs: StoredVersion[] = [];
  const cc: Record<string, number> = {};
  const pts: Record<string, Array<{ e: string; n: number }>> = {};
  for (const r of IDS) {
    if (rnd() < 0.4) continue;
    const ep = epochOf(rnd, r);
    const n = 1 + int(rnd, 9);
    const top = n + int(rnd, 3);
    if (rnd() < 0.7) vs.push(version(rnd, r, ep, n));
    cc[r] = top;
    if (ep !== undefined) pts[r] = [{ e: ep, n: top }];
  }
  return Object.keys(pts).length > 0 ? { vs, cc, pts } : { vs, cc };
}

/** The plain dots of a state, as peer-model.ts dotsOf makes them for every shape but one dot. */
function plainDots(s: KeyState): KeyState {
  const vs = s.vs.map(({ r, ep, n, t, c, d }) => (ep === undefined ? (d ? { r, n, t, c, d } : { r, n, t, c }) : d ? { r, ep, n, t, c, d } : { r, ep, n, t, c }));
  return s.pts !== undefined ? { vs, cc: s.cc, pts: s.pts } : { vs, cc: s.cc };
}

const fields = (s: KeyState | undefined) => s && { vs: s.vs, cc: s.cc, pts: s.pts };

/** What an operation gives, or the error it throws (either must be the same for both forms). */
function outcome(f: () => unknown): unknown {
  try {
    const out = f();
    return out instanceof Uint8Array ? [...out] : out;
  } catch (e) {
    return { threw: (e as Error).message };
  }
}

/** Every reading of `d` (a modeled state) against `others`, as values that compare with toEqual. */
function readings(d: KeyState, others: readonly KeyState[], reg: EpochRegistry): unknown[] {
  const out: unknown[] = [fields(d), namesEpochs(d), stateHash('k', d), canonicalStateText('k', d), outcome(() => ccIsDots(d))];
  for (const r of IDS) for (const e of [undefined, r + '1', r + '2']) for (let n = 0; n <= 12; n++) out.push(coversDot(reg, d, r, e, n));
  const held = dotTest(d.vs);
  for (const x of others) {
    out.push(sameState(d, x), sameState(x, d));
    out.push(fields(joinWith(reg, d, x)), fields(joinWith(reg, x, d)));
    out.push(x.vs.map((v) => held(v)));
    out.push(exchange(d, x, reg), exchange(x, d, reg));
    for (const points of [false, true]) for (const writer of [undefined, ...IDS]) out.push(outcome(() => fields(contextAlone(x, d, points, reg, writer))));
  }
  const send = readerEpochs('rb', 'ra', [], [], reg); // ra's frames to rb, at protocol 11
  out.push(outcome(() => encodeMessage({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', d]] }, undefined, { epochs: send })));
  out.push(outcome(() => encodeMessage({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', d]] })));
  return out;
}

beforeAll(() => loadHasher());
afterEach(() => {
  vi.restoreAllMocks();
});

describe('a one-dot state reads as the plain dots of the same state (seeded, differential)', () => {
  it('every operation on a modeled state answers the same for the OneDot and for plain dots', () => {
    const seed = testSeed();
    const rnd = prng(seed);
    let oneDots = 0;
    for (let run = 0; run < 400; run++) {
      const s = oneDotish(rnd);
      const others = Array.from({ length: 4 }, () => anyState(rnd));
      const d = dotsOf(s);
      if (d instanceof OneDot) oneDots++;
      for (const reg of [NO_EPOCHS, REG]) {
        expect(readings(d, others, reg), `seed ${seed} (SEED=${seed} replays) run ${run}: ${JSON.stringify(s)}`).toEqual(readings(plainDots(s), others, reg));
      }
    }
    expect(oneDots, `seed ${seed}: most runs model one-dot states`).toBeGreaterThan(200);
  });

  it('a PeerModel through a random schedule answers the same with one-dot states as with plain dots only', () => {
    const seed = testSeed();
    const schedule = (rnd: Rand) => {
      const m = new PeerModel(() => REG);
      const told: unknown[] = [];
      for (let step = 0; step < 300; step++) {
        const key = 'k' + int(rnd, 6);
        const s = anyState(rnd);
        switch (int(rnd, 6)) {
          case 0:
          case 1:
            m.observe('s', key, s, rnd() < 0.5);
            break;
          case 2: {
            const forms = m.forms('s', [[key, s]], rnd() < 0.3);
            told.push([...forms.forms].map(([v, f]) => [v.r, v.ep, v.n, f.kind]), forms.bad);
            m.sent('s', [[key, s]], forms.forms);
            break;
          }
          case 3:
            if (rnd() < 0.2) m.needWhole('s', key, '');
            else m.leftOut('s', key, s);
            break;
          default: {
            const back = m.leftOutStates('s', [key]);
            told.push(back.map(([k, st]) => [k, fields(st)]), m.toAsk('s', key), m.asking('s'));
          }
        }
        for (let i = 0; i < 6; i++) told.push(fields(m.known('s', 'k' + i)), fields(m.leftOutOf('s', 'k' + i)?.state));
      }
      return told;
    };
    const withOneDots = schedule(prng(seed));
    vi.spyOn(OneDot, 'of').mockReturnValue(undefined);
    const plainOnly = schedule(prng(seed));
    expect(withOneDots, `seed ${seed} (SEED=${seed} replays)`).toEqual(plainOnly);
  });
});
