/**
 * A storage speaking protocol 11 tags from its second open at 11 on, met anyone or not, unless it met only peers of
 * earlier releases (identity.ts AT11_META; docs/design/epochs-build.md, "Item 6", "The second open tags"). It closes
 * the residual of stop 41: a copy taken before the storage first met a peer at 11 (a few ms after its first open,
 * having written) restored, whose writes after the restore reused the counters its lost history had used untagged
 * (restore-relay 1736200258 jittered, gc-peer 1736200216). Simulated network and disks (test/sim/cluster.ts), virtual
 * time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { AT11_EARLIER, AT11_META, AT11_OPENED, EPOCH_PEER_META, IDENTITY_META } from '../../lib/identity.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { Cluster } from '../sim/cluster.js';

const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
const WITH_11: readonly number[] = [...OLD, EPOCH_DOTS];
const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(speaks: Record<string, readonly number[]>): Promise<Cluster> {
  const names = Object.keys(speaks);
  const c = await Cluster.create({
    seed: 42,
    nodes: names,
    edges: names.filter((n) => n !== 'hub').map((n) => ['hub', n] as const),
    relay: 'hub',
    speaks,
    link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
  });
  clusters.push(c);
  return c;
}

const stored = (c: Cluster, node: string, key: string) => c.node(node).disk.records('s').find(([k]) => k === key)?.[1];
/** The live values a node's disk holds for `key` (read from the record: a read could write a merge back). */
const values = (c: Cluster, node: string, key: string): string[] =>
  (stored(c, node, key)?.vs ?? []).flatMap((v) => (typeof v.v === 'string' ? [JSON.parse(v.v) as string] : [])).sort();
const meta = (c: Cluster, node: string, name: string) => c.drive(c.node(node).storage.getMeta<unknown>(name));
const tagsNow = async (c: Cluster, node: string) => ((await meta(c, node, IDENTITY_META)) as { tagged?: string } | undefined)?.tagged !== undefined;
const protocolErrors = (c: Cluster, node: string) => c.node(node).errors.filter((e) => e instanceof ConcordError && e.code === 'PROTOCOL').map(String);

describe('a copy taken before the storage first met a peer at 11, restored', () => {
  it('opens a tagged epoch: its write after the restore shares no dot with the lost one, which survives beside it everywhere', async () => {
    const c = await cluster({ hub: WITH_11, a: WITH_11, b: WITH_11 });
    const hubBefore = c.node('hub').disk.copy(); // the relay's backup, from before it ever heard of a
    // a's first open writes before it meets anyone, and its copy is taken then: no note that it met a peer at 11.
    c.net.isolate('a');
    await c.drive(c.node('a').r.space('s').put('x', 'before the copy'));
    const copy = c.node('a').disk.copy();
    expect(await tagsNow(c, 'a')).toBe(false);
    await c.drive(c.node('a').r.space('s').put('k', 'lost'));
    c.net.rejoin('a');
    await c.settle();
    expect(values(c, 'b', 'k')).toEqual(['lost']);
    const lost = stored(c, 'b', 'k')!.vs[0]!;
    expect(lost.ep, 'written before a met a peer at 11 (and in the epoch of its first open): untagged').toBeUndefined();

    // a is restored to its copy (undetected: the same place, so the same id), and so is the relay (it then remembers
    // nothing a delivered: no hello tells a it lost writes); a writes k again before it meets anyone.
    c.net.isolate('a');
    await c.replaceStorage('a', copy);
    await c.replaceStorage('hub', hubBefore);
    expect(c.node('a').r.replicaId).toBe(lost.r);
    expect(await tagsNow(c, 'a'), 'the copy was opened once before: its second open tags').toBe(true);
    await c.drive(c.node('a').r.space('s').put('k', 'after the restore'));
    const again = stored(c, 'a', 'k')!.vs[0]!;
    expect({ r: again.r, n: again.n }, 'the lost counter, minted again').toEqual({ r: lost.r, n: lost.n });
    expect(again.ep).toBe(c.node('a').r.core.epoch);
    c.net.rejoin('a');
    await c.settle();
    // Two dots: neither write covers the other, so every replica keeps both, in one state (before, the lost write's
    // holders took the restored one for it, and a kept its own: k diverged). a, shown its lost write by b's state (a
    // counter of its own its storage never minted untagged: restore-claims.ts), re-identifies, and re-issues nothing:
    // its writes since the restore name their epoch, and the untagged one is the lost branch's own dot (a re-issue, as
    // of an untagged replica's writes past the point, would copy 'lost' under the new id: reidentify.ts,
    // identity.ts mintedUntaggedPast).
    expect(c.node('a').r.replicaId, 'it re-identified').not.toBe(lost.r);
    const dots = (n: string) => stored(c, n, 'k')!.vs.map((v) => `${v.r}:${v.n}@${v.ep ?? ''}=${v.v}`).sort();
    const both = [`${lost.r}:${lost.n}@=${lost.v}`, `${again.r}:${again.n}@${again.ep}=${again.v}`].sort();
    for (const n of ['a', 'hub', 'b']) expect(dots(n), n).toEqual(both);
    for (const n of ['a', 'b']) expect(c.node(n).r.pending, n).toBe(0);
  });
});

describe('a storage speaking 11 tags from its second open at 11', () => {
  it('whether or not it met anyone; its first open (the root history) does not, and the first open notes it in its transaction', async () => {
    const storage = memoryStorage();
    const first = await openReplica({ storage, speaks: WITH_11 });
    expect(await storage.getMeta(AT11_META)).toBe(AT11_OPENED);
    await first.space('s').put('k', 'first');
    await first.close();
    const second = await openReplica({ storage, speaks: WITH_11 });
    const w = await second.space('s').put('k', 'second');
    expect((await storage.get('s', 'k'))!.vs).toEqual([expect.objectContaining({ n: w.seq, ep: second.core.epoch })]);
    expect((await storage.getMeta<{ tagged?: string }>(IDENTITY_META))?.tagged).toBe(second.core.epoch);
    // Its record forks from the untagged root at the log top of the open: the first open's dots are its ancestry.
    expect(second.core.epochs.parentOf(second.replicaId, second.core.epoch)).toEqual({ parent: '', fork: w.seq - 1 });
    await second.close();
  });

  it('but not at the first open at 11 of a storage an earlier release wrote (a client upgraded before its relay); from the next one', async () => {
    const storage = memoryStorage();
    const old = await openReplica({ storage, speaks: OLD }); // an earlier release: reads and writes no AT11_META
    await old.space('s').put('k', 'old');
    expect(await storage.getMeta(AT11_META)).toBeUndefined();
    await old.close();
    const upgraded = await openReplica({ storage, speaks: WITH_11 });
    expect(upgraded.core.epoch).toHaveLength(8);
    expect((await storage.getMeta<{ tagged?: string }>(IDENTITY_META))?.tagged).toBeUndefined();
    expect(await storage.getMeta(AT11_META)).toBe(AT11_OPENED);
    await upgraded.close();
    const next = await openReplica({ storage, speaks: WITH_11 });
    expect((await storage.getMeta<{ tagged?: string }>(IDENTITY_META))?.tagged).toBe(next.core.epoch);
    await next.close();
  });
});

describe('a client speaking 11 whose storage met only a relay of an earlier release', () => {
  it('notes it, never tags through its reopens, and syncs every write (after a copy of its first open is restored too)', async () => {
    const c = await cluster({ hub: OLD, a: WITH_11, b: WITH_11 });
    const copy = c.node('a').disk.copy(); // taken before a's first session: no note of any peer
    await c.drive(c.node('a').r.space('s').put('k0', 'first open'));
    await c.settle();
    expect(await meta(c, 'a', AT11_META)).toBe(AT11_EARLIER);
    expect(await meta(c, 'a', EPOCH_PEER_META)).toBeUndefined();
    for (let i = 1; i <= 3; i++) {
      await c.restart('a');
      await c.drive(c.node('a').r.space('s').put(`k${i}`, `open ${i + 1}`));
      await c.settle();
      expect(await tagsNow(c, 'a'), `open ${i + 1}`).toBe(false);
    }
    for (let i = 0; i <= 3; i++) expect(values(c, 'b', `k${i}`), `k${i}`).toEqual([i === 0 ? 'first open' : `open ${i + 1}`]);
    expect(c.node('a').r.pending).toBe(0);
    for (const n of ['hub', 'a', 'b']) expect(protocolErrors(c, n), n).toEqual([]);

    // The price (docs/deploy.md "Backups"): a copy from before its first session knows nothing of the earlier relay,
    // so its second open tags, and those writes wait (counted pending, reported) until the relay speaks 11.
    await c.replaceStorage('a', copy);
    expect(await tagsNow(c, 'a')).toBe(true);
    await c.drive(c.node('a').r.space('s').put('t', 'tagged'));
    await c.settle();
    expect(values(c, 'b', 't')).toEqual([]);
    expect(c.node('a').r.pending).toBe(1);
  });
});
