/**
 * S2 — anti-entropy with no shared cursor: N ∈ {10^5, 10^6} keys, d ∈ {0, 1, 100, 1000} scattered
 * differences. Target (Merkle path): ≤ Negentropy's bytes in ≤ its round trips (aim ≤ ½); d = 0: 1 round trip.
 *
 * Two replicas hold the same N keys (one copied from the other's storage, as a relay would hold them),
 * then d scattered keys are rewritten on one side; both forget their cursors (no cursor is valid),
 * connect, and anti-entropy repairs them: the opening level of the Merkle tree, then (protocol 7) a
 * sketch of the keys under the differing nodes, which the other side peels (lib/sync/fast-path.ts). Every frame until both report 'synced' is
 * counted with WebSocket framing, hellos apart. Beside it: the information-theoretic floor (the differing
 * records as Concord encodes them for the wire) and Negentropy's published figure (10^6 keys, 100
 * differences: about 164 KB in 3 round trips) — no peer library here reconciles without shared history.
 * Targets attached to the rows: d = 0 in 1 round trip; where Negentropy's figure exists (10^6 / 100), its
 * bytes and round trips; elsewhere the set-reconciliation fast path's ≤ 2 × the floor in ≤ 2 round trips.
 */
import { reconcile, replicaPair } from '../lib/antientropy.mjs';
import { envInt, progress } from '../lib/measure.mjs';
import { rowMaker } from '../lib/row.mjs';
import { scattered } from '../lib/wire.mjs';

export const id = 'S2';
export const title = 'anti-entropy without a shared cursor: bytes and round trips';
const row = rowMaker(id);

const NEGENTROPY_1M_100 = { bytes: 164_000, roundTrips: 3 };

const valueOf = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

export async function run({ quick }) {
  const sizes = quick ? [5_000] : [envInt('BENCH_S2_SMALL', 100_000), envInt('BENCH_S2_LARGE', 1_000_000)];
  const rows = [];
  for (const n of sizes) {
    progress(`S2 building two replicas of ${n} keys`);
    const { a, b, keys } = await replicaPair(n, valueOf);
    for (const d of [0, 1, 100, 1000].filter((x) => x <= n / 4)) {
      const picked = scattered(n, d, 7 + d);
      let floor = 0;
      for (const i of picked) {
        await a.space('bench').put(keys[i], { title: `item ${i} changed`, done: i % 2 !== 0, n: n + i });
        const rec = await a.core.storage.get('bench', keys[i]);
        // What the record costs in Concord's own wire encoding: key, dot, HLC delta, value.
        floor += keys[i].length + 1 + 6 + JSON.stringify(JSON.parse(rec.vs[0].v)).length * 0.6;
      }
      const { beyond, roundTrips: rt, log } = await reconcile(a, b); // beyond the hello exchange
      for (const i of picked) {
        const got = await b.space('bench').get(keys[i]);
        if (got?.value?.n !== n + i) throw new Error(`S2: N=${n} d=${d}: ${keys[i]} was not repaired`);
      }
      if (process.env.S2_DEBUG) console.error(log.map((m) => `${m.who}:${m.type}:${m.bytes}`).join(' '));
      progress(`S2 N=${n} d=${d}: ${beyond} B, ${rt} RT, ${log.length} frames (floor ≈ ${Math.round(floor)} B)`);
      const negentropy = n === 1_000_000 && d === 100 ? NEGENTROPY_1M_100 : undefined;
      const peers = (floorFigure, negentropyFigure) => ({
        ...(d > 0 && floorFigure !== undefined ? { 'records floor': floorFigure } : {}),
        ...(negentropy ? { 'negentropy (published)': negentropyFigure } : {}),
      });
      rows.push(row({
        case: `N=${n} d=${d}: bytes`,
        metric: 'bytes',
        higherIsBetter: false,
        concord: beyond,
        peers: peers(Math.round(floor), negentropy?.bytes),
        note: d === 0 ? 'equal replicas: target 1 round trip' : 'target ≤ Negentropy (aim ≤ ½), or on the fast path ≤ 2 × the floor (the differing records as Concord encodes them, estimated: key, dot, HLC, 0.6 × value JSON)',
        ...(d === 0 ? {} : { target: negentropy ? { atMost: 1, of: 'negentropy (published)' } : { atMost: 2, of: 'records floor' } }),
      }));
      rows.push(row({
        case: `N=${n} d=${d}: round trips`,
        metric: 'round trips',
        higherIsBetter: false,
        concord: rt,
        peers: peers(undefined, negentropy?.roundTrips),
        note: d === 0 ? 'target 1' : negentropy ? 'target ≤ Negentropy (3 at 10^6 / 100)' : 'target ≤ 2 (fast path)',
        target: d === 0 ? { atMost: 1 } : negentropy ? { atMost: 1, of: 'negentropy (published)' } : { atMost: 2 },
      }));
    }
    await a.close();
    await b.close();
  }
  return { rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  console.table(rows.map((r) => ({ case: r.case, concord: r.concord, ...r.peers })));
}
