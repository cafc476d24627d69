// The write path takes contexts whose points name epochs (issue 10, stage 2 item 5 of docs/design/epochs-build.md):
// a local write judges what its context covers by the replica's epoch registry, and a read or a write reports its
// context with its points. Nothing stored names an epoch yet, and record() refuses a state that does (the guard
// stays until the stored form carries epochs): here it is replaced by one without the guard, so the write's state
// can be seen.
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeCausal, type Causal, type KeyState, type StoredVersion } from '../lib/dvv.js';
import { Epochs, NO_EPOCHS, type EpochRegistry } from '../lib/epoch-points.js';
import { loadHasher } from '../lib/hash.js';
import { memoryStorage, openReplica } from '../lib/index.js';
import { LocalWrite, type WriteHost } from '../lib/local-write.js';
import type { KeyRecord, StorageTx } from '../lib/storage.js';
import { readView } from '../lib/view.js';
import { WriteResult } from '../lib/write-result.js';
import type { ReplicaCore } from '../lib/core.js';
import { SPEAKS_10 } from './support/raw-versions.js';

vi.mock('../lib/record.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../lib/record.js')>();
  return { ...original, record: (_key: string, state: KeyState, seq: number): KeyRecord => ({ ...state, seq, h: '' }) };
});

beforeAll(loadHasher);

const v = (r: string, n: number, ep?: string): StoredVersion => ({ r, n, t: n, c: 0, v: JSON.stringify(`${r}${n}`), ...(ep !== undefined ? { ep } : {}) });

// a's dots were untagged up to 5; then E1 opened at 5 and E2 at 9.
const reg = new Epochs();
reg.learn('a', [
  ['E1', 5],
  ['E2', 9],
]);

/** Runs one local write of replica m (log at 10) over `current` with context `ctx`; the record it stores. */
function writeOver(epochs: EpochRegistry, current: KeyRecord, ctx: Causal | undefined): KeyRecord {
  const host: WriteHost = {
    id: 'm',
    epochs,
    seenSeq: 10,
    identitySure: true,
    tick: () => ({ ms: 100, logical: 0 }),
    sawSeq: () => {},
    minted: () => {},
    withStoredIdentity: (_tx, _at, then) => then(),
    applied: () => {},
    abandoned: () => {},
    failed: () => {},
    written: () => {},
  };
  let stored: KeyRecord | undefined;
  const tx: StorageTx = {
    get: () => current,
    getMeta: <T>() => 10 as T,
    setMeta: () => {},
    put: (_space, _key, rec) => void (stored = rec),
    remove: () => {},
  };
  const w = new LocalWrite(host, 's', 'k', { v: '1' }, ctx);
  expect(w.run(tx)).toBe(stored);
  return stored!;
}

describe('a local write with a context naming epochs', () => {
  const current: KeyRecord = { vs: [v('a', 3), v('a', 7), v('b', 2)], cc: { a: 7, b: 2 }, seq: 8, h: '' };
  // Read in E2 at 12: its history holds a's untagged dots up to 5 (E2 → E1 at 9 → untagged at 5), not (a, 7).
  const ctx: Causal = { cc: { a: 12 }, pts: { a: [{ e: 'E2', n: 12 }] } };

  it('supersedes a version covered only through an epoch’s parent, judged by the replica’s registry', () => {
    const rec = writeOver(reg, current, ctx);
    expect(rec.vs.map((u) => `${u.r}:${u.n}`)).toEqual(['a:7', 'b:2', 'm:11']);
    expect(rec.pts).toEqual({ a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] });
    expect(rec.cc).toEqual({ a: 12, b: 2, m: 11 });
  });

  it('keeps it when the registry does not know the epoch (judged a root: conservative)', () => {
    const rec = writeOver(NO_EPOCHS, current, ctx);
    expect(rec.vs.map((u) => `${u.r}:${u.n}`)).toEqual(['a:3', 'a:7', 'b:2', 'm:11']);
  });

  it('without a context supersedes what it finds, and untagged states write as before', () => {
    const rec = writeOver(reg, current, undefined);
    expect(rec.vs.map((u) => `${u.r}:${u.n}`)).toEqual(['m:11']);
    expect(rec.cc).toEqual({ a: 7, b: 2, m: 11 });
    expect(rec.pts).toBeUndefined();
    expect(writeOver(reg, current, { cc: { a: 5 } }).vs.map((u) => `${u.r}:${u.n}`)).toEqual(['a:7', 'b:2', 'm:11']);
  });
});

describe('contexts reported with their points', () => {
  const tagged: KeyState = { vs: [v('a', 12, 'E2'), v('b', 2)], cc: { a: 12, b: 2 }, pts: { a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] } };

  it('a read’s context holds the state’s points (the vector alone would claim a’s untagged dots up to 12)', () => {
    const context = readView('k', 's', tagged, undefined)!.result!.context;
    expect(decodeCausal(context)).toEqual({ cc: tagged.cc, pts: tagged.pts });
  });

  it('a write’s context too', () => {
    const result = new WriteResult({} as ReplicaCore, 's', 'k', 1, tagged.cc, tagged.pts);
    expect(decodeCausal(result.context)).toEqual({ cc: tagged.cc, pts: tagged.pts });
    expect(new WriteResult({} as ReplicaCore, 's', 'k', 1, { a: 3 }).context).toBe('a:3');
  });

  it('put of a replica of 10 still refuses a context naming epochs, since no record can store the state it makes', async () => {
    const r = await openReplica({ storage: memoryStorage(), speaks: SPEAKS_10 });
    await expect(r.space('s').put('k', 1, { context: 'a:c@E2' as never })).rejects.toMatchObject({ code: 'INVALID_CONTEXT' });
    await r.close();
  });
});
