import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type StorageAdapter } from '../../lib/index.js';
import { synced, until } from './support.js';

/** A storage whose records and metadata are a copy of another's at this moment (a backup). */
async function backupOf(source: StorageAdapter, spaces: string[]): Promise<StorageAdapter> {
  const copy = memoryStorage();
  await copy.open();
  const metas = ['replica', 'seq'];
  const values = await Promise.all(metas.map((m) => source.getMeta(m)));
  await copy.transact(async (tx) => {
    metas.forEach((m, i) => values[i] !== undefined && tx.setMeta(m, values[i]));
    for (const space of spaces) for (const [k, rec] of await source.scan(space, { limit: 1e9 })) tx.put(space, k, rec);
  });
  await copy.close();
  return copy;
}

describe('a replica restored from a backup', () => {
  it('is told by a peer holding its newer dots, mints a new replicaId, and its later writes never reuse a dot', async () => {
    const storage = memoryStorage();
    const a = await openReplica({ storage });
    a.space('s');
    await a.space('s').put('k1', 'before backup');
    const backup = await backupOf(storage, ['s']);
    await a.space('s').put('k2', 'after backup');
    const b = await openReplica({ storage: memoryStorage() });
    b.space('s');
    const [t1, t2] = pairTransports();
    const la = a.connect(t1);
    b.connect(t2);
    await synced(a, b);
    la.close();
    await a.close();

    // The device is restored from the backup: it lacks the write b already holds.
    const restored = await openReplica({ storage: backup });
    const oldId = restored.replicaId;
    const errors: unknown[] = [];
    restored.on('error', (e) => errors.push(e));
    restored.space('s');
    restored.connect(t1);
    await until(() => restored.replicaId !== oldId, 'the restored replica re-identifies');
    await synced(restored, b);
    await restored.space('s').put('k3', 'after restore');
    await until(async () => (await b.space('s').get('k3'))?.value === 'after restore', 'k3 reaches b');
    const k3 = await b.space('s').get('k3');
    expect(k3?.versions[0]?.replicaId).toBe(restored.replicaId);
    expect((await restored.space('s').get('k2'))?.value).toBe('after backup');
    expect(errors.some((e) => String(e).includes('restored'))).toBe(true);
    await restored.close();
    await b.close();
  });
});
