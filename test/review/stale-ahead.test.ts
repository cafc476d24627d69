/**
 * Probe (review 32): a failed transaction leaves an `ahead` entry that keeps its key pending.
 *
 * LocalWrite.body (local-write.ts) tells the pending-writes map of the record inside the transaction
 * (`host.applied` → pending.ts `applied`), before it commits. When the commit then fails, the entry stays, at a seq above
 * `durableSeq` (the next write takes the same seq, but none may come). pending.ts `acked` keeps any key whose `ahead`
 * entry is past the acknowledgement, so the key's durable record — which the peer acknowledged and holds — stays
 * counted: `replica.pending` stays 1, the status never says 'synced' and `whenSynced()` never resolves, though the
 * key's `w.synced` resolved (acks.ts reads the stored record).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { until } from '../sync/support.js';

const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

/** Memory storage whose next transaction fails at commit (rolled back) while `failNext` is set. */
function failingStorage(): StorageAdapter & { failNext: boolean } {
  const inner = memoryStorage();
  const self = {
    failNext: false,
    open: () => inner.open(),
    close: () => inner.close(),
    transact: <T>(fn: Parameters<StorageAdapter['transact']>[0]) =>
      inner.transact(async (tx) => {
        const out = await fn(tx);
        if (self.failNext) {
          self.failNext = false;
          throw new Error('disk full');
        }
        return out as T;
      }),
    get: (space: string, key: string) => inner.get(space, key),
    getMeta: (name: string) => inner.getMeta(name),
    scan: (space: string, options: unknown) => inner.scan(space, options as never),
    readLog: (space: string, after: number, limit: number) => inner.readLog(space, after, limit),
    index: (space: string) => inner.index(space),
    spaces: () => inner.spaces(),
  };
  return self as unknown as StorageAdapter & { failNext: boolean };
}

describe('a write whose transaction failed', () => {
  it('leaves nothing pending once the peer acknowledged the key\'s durable record', async () => {
    const storage = failingStorage();
    const writer = await openReplica({ storage });
    writer.space('s');
    open.push(writer);
    const peer = await openReplica({ storage: memoryStorage() });
    peer.space('s');
    open.push(peer);
    const first = await writer.space('s').put('k', 'a');
    storage.failNext = true;
    await expect(writer.space('s').put('k', 'b')).rejects.toThrow('disk full');
    expect((await writer.space('s').get('k'))?.value, 'the failed write left nothing').toBe('a');
    const [ta, tb] = pairTransports();
    links.push(writer.connect(ta, { antiEntropyInterval: 0 }), peer.connect(tb, { antiEntropyInterval: 0 }));
    await first.synced;
    expect((await peer.space('s').get('k'))?.value).toBe('a');
    await new Promise((r) => setTimeout(r, 100));
    expect.soft(first.durability).toBe('synced');
    expect.soft(writer.pending, 'k still counted: the failed write\'s ahead entry outlives it').toBe(0);
    expect.soft(writer.status).toBe('synced');
    let whenSynced = false;
    void writer.whenSynced().then(() => (whenSynced = true), () => {});
    await new Promise((r) => setTimeout(r, 100));
    expect.soft(whenSynced, 'whenSynced()').toBe(true);
  });
});
