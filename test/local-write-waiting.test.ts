// A local write run at once whose commit is not durable yet (file storage: thousands of puts wait for one fsync) waits
// in local-write.ts's Waiters: what settling it needs (its key, its record, the record it replaced, the context of a
// write that stored nothing) is kept there, not the LocalWrite itself — the object every young collection copied while
// the writes waited (S4, issue 14). Each write still settles with its own result, reported to its own host, and a
// failure takes back what each write told. A storage stand-in answers transactNow with a durable promise held open.
import { runInNewContext } from 'node:vm';
import { setFlagsFromString } from 'node:v8';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Causal } from '../lib/dvv.js';
import { NO_EPOCHS } from '../lib/epoch-points.js';
import { loadHasher } from '../lib/hash.js';
import { LocalWrite, writeNow, type WriteHost, type WriteReceiver } from '../lib/local-write.js';
import type { KeyRecord, StorageAdapter, StorageTx } from '../lib/storage.js';

beforeAll(loadHasher);

interface Log {
  written: string[];
  applied: string[];
  abandoned: string[];
  failed: number;
}

function host(id: string, log: Log): WriteHost {
  let seq = 0;
  return {
    id,
    epochs: NO_EPOCHS,
    get seenSeq() {
      return seq;
    },
    identitySure: true,
    tick: () => ({ ms: 100, logical: 0 }),
    sawSeq: (s) => void (seq = Math.max(seq, s)),
    minted: () => {},
    withStoredIdentity: (_tx, _at, then) => then(),
    applied: (space, key, s) => void log.applied.push(`${id}/${space}/${key}@${s}`),
    abandoned: (space, key, s) => void log.abandoned.push(`${id}/${space}/${key}@${s}`),
    failed: () => void log.failed++,
    written: (space, key, rec, prev) => void log.written.push(`${id}/${space}/${key}@${rec.seq}${prev ? ` over @${prev.seq}` : ''}`),
  };
}

/** A storage whose transactions run at once and are durable when `settle` says (one promise for all, as a batch). */
function heldStorage() {
  const records = new Map<string, KeyRecord>();
  let meta = 0;
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const durable = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  durable.catch(() => {});
  const storage = {
    transactNow<T>(fn: (tx: StorageTx) => T): { value: T; durable?: Promise<void> } {
      const tx: StorageTx = {
        get: (space, key) => records.get(`${space}/${key}`),
        getMeta: <M>() => meta as M,
        setMeta: (_name, value) => void (meta = value as number),
        put: (space, key, rec) => void records.set(`${space}/${key}`, rec),
        remove: () => {},
      };
      return { value: fn(tx), durable };
    },
  } as unknown as StorageAdapter;
  return { storage, resolve, reject };
}

const receiver: WriteReceiver<string> = {
  settled: (key: string, ctx: Causal | undefined, rec: KeyRecord | undefined) => (rec ? `${key}@${rec.seq}` : `${key} nothing ${JSON.stringify(ctx?.cc)}`),
};

const nothing = () => undefined;

describe('local writes waiting to be durable', () => {
  it('do not keep their LocalWrite while they wait, and settle each with its own result once durable', async () => {
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    const log: Log = { written: [], applied: [], abandoned: [], failed: 0 };
    const a = host('a', log);
    const b = host('b', log);
    const { storage, resolve } = heldStorage();
    const refs: Array<WeakRef<LocalWrite>> = [];
    const results: Array<Promise<string>> = [];
    const other: WriteReceiver<string> = { settled: (key, ctx, rec) => `other:${receiver.settled(key, ctx, rec)}` };
    // writes of two hosts, two spaces and two receivers on one durable promise, interleaved; two that store nothing
    const plan: Array<[WriteHost, string, string, WriteReceiver<string>, boolean, Causal | undefined]> = [
      [a, 's', 'k1', receiver, true, undefined],
      [a, 't', 'k1', receiver, true, undefined],
      [b, 's', 'k2', receiver, true, undefined],
      [a, 's', 'k1', receiver, true, undefined],
      [a, 's', 'k3', receiver, false, { cc: { z: 4 } }],
      [a, 's', 'k4', other, true, undefined],
      [b, 's', 'k5', receiver, false, undefined],
      [a, 't', 'k6', receiver, true, undefined],
    ];
    // (in a function of its own: a suspended async function's frame would keep its last write reachable)
    const issue = (): void => {
      for (const [h, space, key, r, writes, ctx] of plan) {
        const w = new LocalWrite(h, space, key, writes ? { v: JSON.stringify(key) } : nothing, ctx);
        refs.push(new WeakRef(w));
        const out = writeNow(storage, w, r);
        expect(out).toBeInstanceOf(Promise);
        results.push(out as Promise<string>);
      }
    };
    issue();
    await new Promise((res) => setImmediate(res));
    gc();
    gc();
    expect(refs.flatMap((r, i) => (r.deref() !== undefined ? [i] : []))).toEqual([]);
    expect(log.written).toEqual([]);
    resolve();
    // (one log: its seq counts the writes of both hosts)
    expect(await Promise.all(results)).toEqual(['k1@1', 'k1@2', 'k2@3', 'k1@4', 'k3 nothing {"z":4}', 'other:k4@5', 'k5 nothing undefined', 'k6@6']);
    expect(log.written).toEqual(['a/s/k1@1', 'a/t/k1@2', 'b/s/k2@3', 'a/s/k1@4 over @1', 'a/s/k4@5', 'a/t/k6@6']);
    expect(log.applied).toEqual(log.written.map((w) => w.replace(' over @1', '')));
  });

  it('writes issued while the writes of a settled durable promise settle (that promise handed out again) settle each with their own result', async () => {
    const log: Log = { written: [], applied: [], abandoned: [], failed: 0 };
    const a = host('a', log);
    const { storage, resolve } = heldStorage();
    const late: Array<Promise<string>> = [];
    // the first settlement of k1 issues two writes (one into the Waiters still settling, one into another space's)
    let reentered = false;
    const r: WriteReceiver<string> = {
      settled: (key, ctx, rec) => {
        if (key === 'k1' && !reentered) {
          reentered = true;
          late.push(writeNow(storage, new LocalWrite(a, 's', 'r1', { v: '"r1"' }, undefined), r) as Promise<string>);
          late.push(writeNow(storage, new LocalWrite(a, 't', 'r2', { v: '"r2"' }, undefined), r) as Promise<string>);
        }
        return receiver.settled(key, ctx, rec);
      },
    };
    const first = ['k1', 'k2', 'k1'].map((k) => writeNow(storage, new LocalWrite(a, 's', k, { v: JSON.stringify(k) }, undefined), r) as Promise<string>);
    resolve();
    expect(await Promise.all(first)).toEqual(['k1@1', 'k2@2', 'k1@3']);
    expect(late).toHaveLength(2);
    expect(await Promise.all(late)).toEqual(['r1@4', 'r2@5']);
    // and a write issued after all of them settled
    expect(await writeNow(storage, new LocalWrite(a, 's', 'k2', { v: '"again"' }, undefined), r)).toBe('k2@6');
    expect(log.written).toEqual(['a/s/k1@1', 'a/s/k2@2', 'a/s/k1@3 over @1', 'a/s/r1@4', 'a/t/r2@5', 'a/s/k2@6 over @2']);
  });

  it('a failed group: two writes of one key, and writes issued while it fails, each rejected and each record taken back', async () => {
    const log: Log = { written: [], applied: [], abandoned: [], failed: 0 };
    const a = host('a', log);
    const { storage, reject } = heldStorage();
    const late: Array<Promise<string>> = [];
    let reentered = false;
    const r: WriteReceiver<string> = {
      settled: receiver.settled,
      waiting: (on) => {
        if (!on && !reentered) {
          reentered = true;
          late.push(writeNow(storage, new LocalWrite(a, 's', 'r1', { v: '"r1"' }, undefined), r) as Promise<string>);
        }
      },
    };
    const first = [
      writeNow(storage, new LocalWrite(a, 's', 'k1', { v: '1' }, undefined), r),
      writeNow(storage, new LocalWrite(a, 's', 'k1', { v: '2' }, undefined), r),
      writeNow(storage, new LocalWrite(a, 's', 'k2', nothing, undefined), r),
    ] as Array<Promise<string>>;
    const error = new Error('fsync failed');
    reject(error);
    for (const out of await Promise.allSettled(first)) expect(out).toEqual({ status: 'rejected', reason: error });
    expect(late).toHaveLength(1);
    expect(await Promise.allSettled(late)).toEqual([{ status: 'rejected', reason: error }]);
    expect(log.abandoned).toEqual(['a/s/k1@1', 'a/s/k1@2', 'a/s/r1@3']);
    expect(log.failed).toBe(1);
    expect(log.written).toEqual([]);
  });

  it('a failure rejects each with the error and takes back what each told: its record, or that it failed', async () => {
    const log: Log = { written: [], applied: [], abandoned: [], failed: 0 };
    const a = host('a', log);
    const { storage, reject } = heldStorage();
    const results = [
      writeNow(storage, new LocalWrite(a, 's', 'k1', { v: '1' }, undefined), receiver),
      writeNow(storage, new LocalWrite(a, 's', 'k2', nothing, undefined), receiver),
      writeNow(storage, new LocalWrite(a, 't', 'k3', { v: '3' }, undefined), receiver),
    ] as Array<Promise<string>>;
    const error = new Error('disk gone');
    reject(error);
    for (const out of await Promise.allSettled(results)) expect(out).toEqual({ status: 'rejected', reason: error });
    expect(log.abandoned).toEqual(['a/s/k1@1', 'a/t/k3@2']);
    expect(log.failed).toBe(1);
    expect(log.written).toEqual([]);
  });
});
