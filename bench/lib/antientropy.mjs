/**
 * What S2 and S2v share: two replicas holding the same N keys with no shared cursor, and one counted
 * anti-entropy exchange between them.
 *
 * `replicaPair` fills replica a by puts, then copies a's records into b with `core.join` (as a relay would
 * hold them: whole states, epoch points included), so both hold identical records. `reconcile` makes each forget the cursor it holds into the
 * other's log (an invalid cursor: anti-entropy decides), connects them over an in-memory pair, and counts every frame
 * until both report 'synced': bytes with WebSocket framing, hellos (type 1) apart, per side.
 */
import { memoryStorage, openReplica, pairTransports } from 'concord';
import { recording, roundTrips, until } from './wire.mjs';

export const SPACE = 'bench';

/** Two replicas with the same `n` keys `k<i>` → `valueOf(i)`. */
export async function replicaPair(n, valueOf) {
  const keys = Array.from({ length: n }, (_, i) => `k${i}`);
  const a = await openReplica({ storage: memoryStorage() });
  const s = a.space(SPACE);
  for (let i = 0; i < n; i += 2000) await Promise.all(keys.slice(i, i + 2000).map((k, j) => s.put(k, valueOf(i + j))));
  const b = await openReplica({ storage: memoryStorage() });
  b.space(SPACE);
  for (let after; ; ) {
    const page = await a.core.storage.scan(SPACE, { limit: 5000, ...(after !== undefined ? { after } : {}) });
    // The whole state, its epoch points included where a's dots name epochs (protocol 11): what a relay would hold.
    await b.core.join(SPACE, page.map(([k, rec]) => [k, { vs: rec.vs, cc: rec.cc, ...(rec.pts ? { pts: rec.pts } : {}) }]));
    if (page.length < 5000) break;
    after = page[page.length - 1][0];
  }
  return { a, b, keys };
}

/**
 * One anti-entropy exchange without a shared cursor. Returns bytes beyond the hellos (`beyond`, and per side
 * `fromA` / `fromB`), the hellos' bytes, round trips beyond the hellos, and the frame log.
 */
async function forgetCursor(r, peer) {
  await r.core.storage.transact((tx) => tx.setMeta(`c:${peer.replicaId}:${SPACE}`, { e: '', s: 0 }));
}

export async function reconcile(a, b) {
  await forgetCursor(a, b);
  await forgetCursor(b, a);
  const [ta, tb] = pairTransports();
  const log = [];
  const la = a.connect(recording(ta, 'a', log, { client: true }), { antiEntropyInterval: 0 });
  const lb = b.connect(recording(tb, 'b', log, { client: false }), { antiEntropyInterval: 0 });
  await until(() => a.status === 'synced' && b.status === 'synced');
  la.close();
  lb.close();
  const data = log.filter((m) => m.type !== 1);
  const sum = (ms) => ms.reduce((s, m) => s + m.bytes, 0);
  return {
    beyond: sum(data),
    fromA: sum(data.filter((m) => m.who === 'a')),
    fromB: sum(data.filter((m) => m.who === 'b')),
    hello: sum(log.filter((m) => m.type === 1)),
    roundTrips: roundTrips(data),
    log,
  };
}
