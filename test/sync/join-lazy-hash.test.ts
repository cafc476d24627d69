/**
 * A join's record hashes its state when first read (record.ts WrittenRecord, as a local write's): a client of a relay on
 * memory storage that streams from its cursor builds no Merkle tree, and hashed every key the relay fanned out to it
 * (bench S7). Whoever reads the hash gets what `record` gives — the change event's record, the storage's index and
 * reads, JSON (file storage) with the source kept — and a tree built later holds it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { stateHash, stateOf, type KeyState } from '../../lib/dvv.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { record, WrittenRecord } from '../../lib/record.js';
import type { StoredChange } from '../../lib/core.js';
import { writtenState } from '../support/replicas.js';

const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (undo.length) await undo.pop()!();
});

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  undo.push(() => r.close());
  return r;
}

/** Another replica's state of `key` in space s, as a peer would send it. */
const remote = (key: string, v: unknown) => writtenState(replica, key, v);

describe('a join hashes its records when first read', () => {
  it('stores and tells a record whose hash nobody computed; read, it is the hash of its state', async () => {
    const b = await replica();
    const x = await remote('k', { n: 1 });
    const told: StoredChange[] = [];
    b.core.events.on('change', (c) => void told.push(c));
    const stored = b.core.joinNow('s', [['k', x.state]], { peer: x.id });
    expect(stored).not.toBeInstanceOf(Promise);
    const rec = told[0]!.rec;
    expect(rec).toBeInstanceOf(WrittenRecord);
    expect((rec as WrittenRecord).knownHash).toBeUndefined();
    expect(rec.src).toBe(x.id);
    const plain = record('k', x.state, rec.seq, x.id);
    // What reads it: JSON (file storage writes it so), the storage's index (the Merkle tree's build) and its reads.
    expect(JSON.parse(JSON.stringify(rec))).toEqual(JSON.parse(JSON.stringify(plain)));
    expect(await b.core.storage.index('s')).toEqual([{ key: 'k', seq: rec.seq, h: plain.h }]);
    expect(await b.core.storage.get('s', 'k')).toEqual(plain);
    expect(rec.h).toBe(stateHash('k', x.state));
  });

  it('a join of a state that is not the peer’s as sent (joined with ours) keeps no source, and hashes the joined state', async () => {
    const b = await replica();
    await b.space('s').put('k', 'ours');
    const x = await remote('k', 'theirs');
    const told: StoredChange[] = [];
    b.core.events.on('change', (c) => void told.push(c));
    await b.core.join('s', [['k', x.state]], { peer: x.id });
    const rec = told[0]!.rec;
    expect(rec.vs).toHaveLength(2);
    expect(rec.src).toBeUndefined();
    expect('src' in JSON.parse(JSON.stringify(rec))).toBe(false);
    const stored = (await b.core.storage.get('s', 'k'))!;
    expect(stored.h).toBe(stateHash('k', stateOf(stored)));
    expect(rec.h).toBe(stored.h);
  });

  it('two replicas whose joins left their hashes unread index the same hashes (what a Merkle tree is built from)', async () => {
    const a = await replica();
    const b = await replica();
    const xs = await Promise.all(['k1', 'k2', 'k3'].map((k, i) => remote(k, i)));
    for (const r of [a, b]) for (const [i, x] of xs.entries()) await r.core.join('s', [[`k${i + 1}`, x.state]], { peer: x.id });
    const index = async (r: Replica) => (await r.core.storage.index('s')).sort((p, q) => p.key.localeCompare(q.key)).map((e) => [e.key, e.h]);
    expect(await index(a)).toEqual(await index(b));
    for (const [k, h] of await index(a)) expect(h).toBe(stateHash(k!, stateOf((await a.core.storage.get('s', k!))!)));
  });
});
