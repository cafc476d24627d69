/**
 * Named scenarios on the simulated network: restart from storage, a peer with a new log epoch, partition
 * and heal, long offline, and a large first sync under a small frame limit. Bytes and message types are
 * counted on the wire (the network's tap), never through the engine's internals.
 */
import { describe, expect, it } from 'vitest';
import { MsgType } from '../../lib/sync/messages.js';
import type { Frame } from '../../lib/transport.js';
import { signature } from './checks.js';
import { Cluster } from './cluster.js';
import { isPending, pendingLabel } from './pending.js';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 7;

/** Counts message types sent, per sender. */
function wireLog() {
  const counts = new Map<string, number>();
  return {
    tap: (from: string, _to: string, frame: Frame) => {
      // The type is the first byte; frames after a hello need the session's string table to decode in full.
      const type = typeof frame === 'string' ? -1 : frame[0]!;
      const k = `${from}:${type}`;
      counts.set(k, (counts.get(k) ?? 0) + 1);
    },
    count: (from: string, type: MsgType) => counts.get(`${from}:${type}`) ?? 0,
    reset: () => counts.clear(),
  };
}

const bytesFrom = (c: Cluster, name: string) => c.transportsOf(name).reduce((n, t) => n + t.stats.bytes, 0);

async function fill(c: Cluster, node: string, prefix: string, n: number, value: (i: number) => unknown = (i) => `${prefix}${i}`): Promise<void> {
  const space = c.node(node).r.space('s');
  for (let i = 0; i < n; i++) await space.put(`${prefix}${i}`, value(i));
}

async function keyCount(c: Cluster, node: string): Promise<number> {
  return (await c.node(node).storage.index('s')).length;
}

/** Every replica holds the same versions: dots, value bytes, clocks and context (checks.ts `signature`). */
async function sameState(c: Cluster): Promise<void> {
  const views = c.names.map((n) => new Map(c.node(n).disk.records('s').map(([k, rec]) => [k, signature(rec)])));
  for (const v of views.slice(1)) expect(v).toEqual(views[0]);
}

describe(`simulated scenarios (seed ${SEED})`, () => {
  it('a replica restarted from its storage resumes from its cursors: no full resync', async () => {
    const wire = wireLog();
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b'], edges: [['a', 'b']], link: { antiEntropyInterval: 0 }, net: { tap: wire.tap } });
    await fill(c, 'a', 'k', 2000);
    await c.settle();
    const full = bytesFrom(c, 'a');
    expect(await keyCount(c, 'b')).toBe(2000);

    await c.stop('b');
    await fill(c, 'a', 'new', 10);
    await c.clock.advance(1000);
    const before = bytesFrom(c, 'a');
    wire.reset();
    await c.start('b');
    await c.settle();
    const resumed = bytesFrom(c, 'a') - before;
    expect(await keyCount(c, 'b')).toBe(2010);
    // Only the 10 new keys (and a hello/acks) travel, not the 2000 already held: well under 5% of a full sync.
    expect(resumed).toBeLessThan(full / 20);
    expect(wire.count('a', MsgType.AntiEntropy) + wire.count('b', MsgType.AntiEntropy)).toBe(0);
    await sameState(c);
    await c.close();
  });

  it('a peer whose log epoch changed (fresh storage, new replica) is repaired by anti-entropy', async () => {
    const wire = wireLog();
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b'], edges: [['a', 'b']], link: { antiEntropyInterval: 0 }, net: { tap: wire.tap } });
    await fill(c, 'a', 'k', 300);
    await fill(c, 'b', 'm', 50);
    await c.settle();
    const oldId = c.node('b').r.replicaId;

    // b loses its storage and comes back as a new replica that writes before it reconnects.
    c.net.partition(['b']);
    await c.replaceStorage('b');
    expect(c.node('b').r.replicaId).not.toBe(oldId);
    await fill(c, 'b', 'fresh', 20);
    await c.node('b').r.space('s').put('k1', 'b again');
    await c.node('a').r.space('s').put('k2', 'a meanwhile');
    await c.clock.advance(500);
    wire.reset();
    c.net.heal();
    await c.settle();

    expect(wire.count('a', MsgType.AntiEntropy) + wire.count('b', MsgType.AntiEntropy)).toBeGreaterThan(0);
    expect(await keyCount(c, 'a')).toBe(370);
    expect(await keyCount(c, 'b')).toBe(370);
    await sameState(c);
    const k1 = await c.node('a').r.space('s').get('k1');
    expect(k1?.siblings.sort()).toEqual(['b again', 'k1']);
    expect((await c.node('b').r.space('s').get('k2'))?.value).toBe('a meanwhile');
    await c.close();
  });

  it('a partitioned pair heals: concurrent writes become the same siblings on both sides', async () => {
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b', 'c'], edges: [['a', 'b'], ['b', 'c']] });
    await c.node('a').r.space('s').put('doc', 'v0');
    await c.settle();
    c.net.partition(['a']);
    await c.node('a').r.space('s').put('doc', 'from a');
    await c.node('c').r.space('s').put('doc', 'from c');
    await c.node('c').r.space('s').delete('gone');
    await c.clock.advance(10_000);
    expect(c.node('a').r.status).not.toBe('synced');
    expect((await c.node('a').r.space('s').get('doc'))?.value).toBe('from a');
    c.net.heal();
    await c.settle();
    for (const n of c.names) {
      const doc = await c.node(n).r.space('s').get('doc');
      expect(doc?.conflict).toBe(true);
      expect(doc?.siblings.sort()).toEqual(['from a', 'from c']);
    }
    await sameState(c);
    await c.close();
  });

  it('long offline with thousands of writes on both sides catches up', async () => {
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'hub', 'b'], edges: [['a', 'hub'], ['hub', 'b']], link: { backoff: { base: 250, max: 30_000 } } });
    await fill(c, 'a', 'shared', 100);
    await c.settle();
    c.net.partition(['a']);
    await fill(c, 'a', 'a', 4000);
    await fill(c, 'b', 'b', 1500);
    await fill(c, 'a', 'shared', 100, (i) => `a${i}`);
    await c.clock.advance(3_600_000); // an hour offline: the link is at its longest backoff
    c.net.heal();
    await c.settle();
    for (const n of c.names) expect(await keyCount(c, n)).toBe(5600);
    expect((await c.node('b').r.space('s').get('shared7'))?.value).toBe('a7');
    await sameState(c);
    await c.close();
  });

  it('a 10^5-key first sync streams in many frames, none over a small maxFrameBytes', async () => {
    const limit = 16 * 1024;
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b'], edges: [['a', 'b']], net: { maxFrameBytes: limit } });
    await c.stop('b');
    await fill(c, 'a', 'key', 100_000, (i) => ({ n: i, label: `value number ${i}` }));
    const framesBefore = c.transportsOf('a')[0]!.stats.frames;
    await c.start('b');
    await c.settle();
    expect(await keyCount(c, 'b')).toBe(100_000);
    expect(c.net.violations).toEqual([]);
    expect(c.net.maxFrameSeen).toBeLessThanOrEqual(limit);
    const frames = c.transportsOf('a')[0]!.stats.frames - framesBefore;
    // ~4.5 MB of entries cannot fit in fewer than 4.5 MB / 16 KiB frames.
    expect(frames).toBeGreaterThan(c.transportsOf('a')[0]!.stats.bytes / limit);
    expect((await c.node('b').r.space('s').get('key99999'))?.value).toEqual({ n: 99_999, label: 'value number 99999' });
    await c.close();
  }, 120_000);

  it('a space opened after connecting starts syncing at once', async () => {
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b'], edges: [['a', 'b']] });
    await c.settle();
    await c.node('a').r.space('later').put('x', 'in a later space');
    const seen: string[] = [];
    c.node('b').r.space('later').subscribe('*', (e) => seen.push(`${e.key}:${e.origin}`));
    await c.settle();
    expect((await c.node('b').r.space('later').get('x'))?.value).toBe('in a later space');
    expect(seen).toEqual(['x:remote']);
    await c.close();
  });

  const restoreCluster = async () => {
    const c = await Cluster.create({ seed: SEED, nodes: ['a', 'b'], edges: [['a', 'b']], link: { antiEntropyInterval: 0 } });
    await fill(c, 'a', 'k', 10);
    await c.settle();
    const backup = c.node('a').disk.copy();
    const oldId = c.node('a').r.replicaId;
    // Writes after the backup, stored by b: they are lost with a's disk.
    await fill(c, 'a', 'late', 5);
    await c.node('a').r.space('s').put('k3', 'after the backup');
    await c.settle();
    return { c, oldId, restored: backup };
  };

  it('a replica restored from a backup re-identifies before it writes again', async () => {
    const { c, oldId, restored } = await restoreCluster();
    await c.replaceStorage('a', restored);
    expect(c.node('a').r.replicaId).toBe(oldId);
    await c.settle(); // b holds newer dots of a than a's log: it tells a to re-identify
    const newId = c.node('a').r.replicaId;
    expect(newId).not.toBe(oldId);
    const w = await c.node('a').r.space('s').put('k3', 'restored a writes');
    await c.settle();
    await w.synced;
    await sameState(c);
    const k3 = await c.node('b').r.space('s').get('k3');
    expect(k3?.versions.map((v) => v.replicaId)).toEqual([newId]);
    expect((await c.node('a').r.space('s').get('late4'))?.value).toBe('late4');
    await c.close();
  });

  // A restored replica that writes before it reconnects mints again the dots it minted after the backup
  // (for other values), and its log top passes what the peer holds, so the hello's restore check (a peer
  // holds a dot above our top) misses it; the peer also never streams back the lost writes, whose records
  // came from this replica (no echo). The replicas settle 'synced' but differ (defect 5 of issue 10).
  const restoredWritesOffline = 'scenario:restored-replica-writes-offline';
  it.skipIf(isPending(restoredWritesOffline))(`a restored replica that writes offline before reconnecting converges${isPending(restoredWritesOffline) ? ` — ${pendingLabel(restoredWritesOffline)}` : ''}`, async () => {
    const { c, restored } = await restoreCluster();
    c.net.partition(['a']);
    await c.replaceStorage('a', restored);
    for (let i = 0; i < 8; i++) await c.node('a').r.space('s').put(`k${i}`, `offline after restore ${i}`);
    c.net.heal();
    await c.settle();
    await sameState(c);
    const reads = await Promise.all(c.names.map(async (n) => JSON.stringify(await c.node(n).r.space('s').get('k3'))));
    expect(reads[1]).toBe(reads[0]);
    await c.close();
  });
});
