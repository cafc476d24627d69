/**
 * A space's index (hub.ts: the Merkle tree and last seq, built from the storage's index on first use) whose build
 * fails — the storage closed under it — must neither leave an unhandled rejection behind (a change stored meanwhile
 * waits on the build to update the tree) nor stay cached as the space's index. Found by the simulator's storage
 * jitter (scans of every family, 1–100, SIM_JITTER=1): an anti-entropy turn began the build as its replica stopped,
 * and the storage's CLOSED came back to nobody (Node ends a process on an unhandled rejection by default).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import type { IndexEntry } from '../../lib/storage.js';

type Hub = { hub: { index(space: string): Promise<{ lastSeq: number; tree: { keyCount: number } }> } };

const unhandled: unknown[] = [];
const listen = (e: unknown) => void unhandled.push(e);

afterEach(() => {
  process.off('unhandledRejection', listen);
  unhandled.length = 0;
});

describe('a space index whose build fails', () => {
  it('leaves no unhandled rejection when a change waited on it, and the next use builds again', async () => {
    process.on('unhandledRejection', listen);
    const storage = memoryStorage();
    const r = await openReplica({ storage });
    await r.space('s').put('a', 1);
    const index = storage.index.bind(storage);
    let fail: ((e: unknown) => void) | undefined;
    storage.index = () => new Promise<IndexEntry[]>((_, reject) => (fail = reject));
    const hub = (r as unknown as Hub).hub;
    const first = hub.index('s');
    const heard = first.then(() => 'built', (e: unknown) => (e as ConcordError).code);
    // A change stored while the build runs waits on it to update the tree.
    await r.space('s').put('b', 2);
    fail!(new ConcordError('CLOSED', 'storage is closed (test)'));
    expect(await heard).toBe('CLOSED');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(unhandled.map(String)).toEqual([]);
    storage.index = index;
    const again = await hub.index('s');
    expect(again.tree.keyCount).toBe(2);
    await r.close();
  });
});
