/**
 * Probe (review 32), fixed: a relay counted a member as holding a client's write its link to that member left out.
 *
 * The same defect class as 312cc7d fixed for `w.synced`, one level up: cluster.ts counted a member once its
 * acknowledgement of the relay's log reached the seq the client's frame was stored at, without asking whether the
 * frames to that member carried the key. A key state the relay-to-relay link cannot carry (here: siblings over the
 * frame limit, from a member of an earlier release that sends no key parts, to a member that joins later) is left out
 * with VALUE_TOO_LARGE and withheld in the relay's own AckTracker — which cluster.ts did not consult. The relay then
 * reported "2 relays hold your log up to u", the client's `w.replicated(2)` resolved and `w.durability` said
 * 'replicated' while the other relay held nothing of the write. Now a key withheld from a member does not count as
 * held by it, and an entry stored with no keys (a repair's) does not count for a member while its link withholds any
 * key of the space.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { aliveIds, closeAll, clusterRelay, SECRET, until } from '../cluster/support.js';

const open: Array<Replica | Relay> = [];
afterAll(() => closeAll(...open));
const token = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: '1h' });
/** Siblings of 1 MB: each fits a 4 MiB frame (the default --max-payload); five together do not. */
const value = (c: string) => c.repeat(1000 * 1000);

async function client(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  r.space('s');
  open.push(r);
  return r;
}

describe('replication counts of a key the relay-to-relay link cannot carry', () => {
  it.each(['repaired', 'streamed'] as const)('a member that acknowledged the log without the key is not counted as holding the write (%s)', async (how) => {
    const a = await clusterRelay();
    open.push(a);
    a.replica.core.speaks = [5, 6, 7, 8, 9]; // a relay of an earlier release (rolling upgrade): no key parts
    const errors: unknown[] = [];
    a.replica.on('error', (e) => errors.push(e));

    // Five clients write k concurrently (offline), then reach relay a: a holds k with five siblings, over one frame.
    const others = [await client(), await client(), await client(), await client(), await client()];
    for (const [i, o] of others.entries()) await o.space('s').put('k', value('abcde'[i]!));
    for (const o of others) o.connect(webSocketTransport(a.url, { token }), { backoff: { base: 20, max: 200 } });
    await until(async () => (await a.replica.space('s').get('k'))?.siblings.length === 5, 'a joined every sibling', 10_000);

    // Relay b joins the cluster and catches up on a's log: k cannot go (over the frame, no key parts).
    const b = await clusterRelay({ join: [a.url] });
    open.push(b);
    const ids = [a, b].map((r) => r.replica.replicaId).sort();
    await until(() => [a, b].every((r) => aliveIds(r).join() === ids.join()), 'both relays alive', 10_000);
    await until(() => errors.some((e) => (e as { code?: string }).code === 'VALUE_TOO_LARGE'), 'a reports k too large for b', 10_000);

    // A sixth concurrent write of k, by the writer: a stores it in k's record, which still cannot go to b.
    const writer = await client();
    // Repaired: written offline, it reaches a by the establishing run (an entry a stores with no keys). Streamed: by the
    // live stream (an entry with its keys).
    const connect = () => writer.connect(webSocketTransport(a.url, { token }), { backoff: { base: 20, max: 200 } });
    if (how === 'streamed') {
      connect();
      await until(() => writer.status === 'synced', 'the writer linked', 10_000);
    }
    const w = await writer.space('s').put('k', value('w'));
    let replicated = false;
    void w.replicated(2).then(() => (replicated = true));
    if (how === 'repaired') connect();
    await w.synced;
    await until(async () => (await a.replica.space('s').get('k'))?.siblings.length === 6, 'a joined the writer\'s sibling');
    await until(() => writer.core.acks.replicatedCount('s', w.seq) >= 2, 'a reports two holders of the writer\'s log', 2_000).catch(() => {});
    await new Promise((r) => setTimeout(r, 300));
    const atB = await b.replica.space('s').get('k');
    expect(atB?.siblings.includes(value('w')) ?? false, "b holds the writer's write").toBe(false);
    expect.soft(replicated, "w.replicated(2) resolved while b holds nothing of the writer's write").toBe(false);
    expect.soft(w.durability, 'w.durability').not.toBe('replicated');
  }, 30_000);
});
