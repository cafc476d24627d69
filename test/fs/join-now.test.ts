// A join of received states commits at once where the storage can (core.ts joinNow through transactNow): on memory
// storage its changes are stored and told before it returns (no promise, no turn: S7's clients); on file storage it
// still tells nothing, and answers nothing, before the fsync of its frame — and a failed fsync tells nothing at all.
import { afterEach, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { stateOf, type KeyState } from '../../lib/dvv.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { errnoError, faultyIo, isLog, tempDir, type Faults } from './helpers.js';

const open: Replica[] = [];
const dirs: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
  for (const c of dirs.splice(0)) await c();
});

/** Another replica's state of key `k` (one write of `value`), as a peer would send it. */
async function remoteState(value: unknown): Promise<{ id: string; state: KeyState }> {
  const w = await openReplica({ storage: memoryStorage() });
  open.push(w);
  await w.space('s').put('k', value);
  return { id: w.replicaId, state: stateOf((await w.core.storage.get('s', 'k'))!) };
}

function told(r: Replica): string[] {
  const keys: string[] = [];
  r.core.events.on('change', (c) => void keys.push(c.key));
  return keys;
}

describe('a join of received states (joinNow)', () => {
  it('on memory storage: stored and told before it returns, with no promise; the same state again stores nothing, at once', async () => {
    const { id, state } = await remoteState({ a: 1 });
    const r = await openReplica({ storage: memoryStorage() });
    open.push(r);
    const keys = told(r);
    const out = r.core.joinNow('s', [['k', state]], { peer: id });
    expect(out).not.toBeInstanceOf(Promise);
    expect((out as Array<{ key: string }>).map((c) => c.key)).toEqual(['k']);
    expect(keys).toEqual(['k']);
    expect((await r.space('s').get('k'))?.value).toEqual({ a: 1 });
    expect(r.core.joinNow('s', [['k', state]], { peer: id })).toEqual([]);
    expect(keys).toEqual(['k']);
  });

  it('on memory storage: a join that throws in its transaction (its cursor record) keeps nothing and tells nothing, and the next join stores the key', async () => {
    const { id, state } = await remoteState(2);
    const r = await openReplica({ storage: memoryStorage() });
    open.push(r);
    const keys = told(r);
    const seq = await r.core.storage.getMeta('seq');
    expect(() =>
      r.core.joinNow('s', [['k', state]], {
        peer: id,
        alsoInTx: () => {
          throw new Error('cursor write failed');
        },
      }),
    ).toThrow('cursor write failed');
    expect(keys).toEqual([]);
    expect(await r.core.storage.get('s', 'k')).toBeUndefined();
    expect(await r.core.storage.getMeta('seq')).toBe(seq);
    expect((r.core.joinNow('s', [['k', state]], { peer: id }) as unknown[]).length).toBe(1);
    expect(keys).toEqual(['k']);
  });

  it('on file storage: nothing is told, and it does not answer, before its frame is fsynced; a failed fsync tells nothing', async () => {
    const { id, state } = await remoteState('v');
    const { dir, cleanup } = await tempDir('join-now');
    dirs.push(cleanup);
    let gate: Promise<void> | undefined;
    let release = () => {};
    let fail = false;
    const faults: Faults = {
      beforeSync: (p) => (isLog(p) && gate ? gate : Promise.resolve()),
      datasync: (p) => (fail && isLog(p) ? errnoError('EIO', 'fdatasync') : undefined),
    };
    const r = await openReplica({ storage: fileStorage(dir, { io: faultyIo(faults) }) });
    open.push(r);
    const keys = told(r);
    gate = new Promise((res) => (release = res));
    const out = r.core.joinNow('s', [['k', state]], { peer: id });
    expect(out).toBeInstanceOf(Promise);
    let answered = false;
    void (out as Promise<unknown>).then(() => (answered = true));
    await new Promise((res) => setTimeout(res, 50));
    expect(answered).toBe(false);
    expect(keys).toEqual([]);
    gate = undefined;
    release();
    expect((await out).map((c) => c.key)).toEqual(['k']);
    expect(keys).toEqual(['k']);

    const other = await remoteState('w');
    fail = true;
    const failing = r.core.joinNow('s', [['k2', other.state]], { peer: other.id });
    await expect(Promise.resolve(failing)).rejects.toThrow();
    expect(keys).toEqual(['k']);
  });
});
