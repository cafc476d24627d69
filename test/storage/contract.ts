/**
 * The storage contract: every StorageAdapter passes this suite unchanged. An adapter's test file is a setup
 * function: `runStorageContract('memory', async () => ({ storage: memoryStorage() }))`.
 * `reopen`, when given, returns a fresh adapter over the same underlying data (files, database name):
 * what was committed must be there.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { derive, valueOf } from '../../lib/deltas.js';
import { loadHasher } from '../../lib/hash.js';
import { counter } from '../../lib/merges/index.js';
import { counterType, type Counter } from '../../lib/merges/counter.js';
import { decodeValue, encodeValue } from '../../lib/values.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';

export interface ContractSetup {
  storage: StorageAdapter;
  reopen?: () => Promise<StorageAdapter>;
  cleanup?: () => Promise<void>;
}

export function rec(seq: number, value = `v${seq}`, r = 'replicaA'): KeyRecord {
  return { vs: [{ r, n: seq, t: 1_700_000_000_000 + seq, c: 0, v: JSON.stringify(value) }], cc: { [r]: seq }, seq, h: seq.toString(16).padStart(16, '0') };
}

export function runStorageContract(name: string, setup: () => Promise<ContractSetup>): void {
  describe(`storage contract: ${name}`, () => {
    beforeAll(loadHasher);

    async function withStorage(fn: (s: StorageAdapter, ctx: ContractSetup) => Promise<void>): Promise<void> {
      const ctx = await setup();
      await ctx.storage.open();
      try {
        await fn(ctx.storage, ctx);
      } finally {
        await ctx.storage.close().catch(() => {});
        await ctx.cleanup?.();
      }
    }

    it('stores and reads records and metadata in a transaction', () =>
      withStorage(async (s) => {
        expect(await s.get('sp', 'a')).toBeUndefined();
        expect(await s.getMeta('seq')).toBeUndefined();
        await s.transact(async (tx) => {
          tx.put('sp', 'a', rec(1));
          tx.setMeta('seq', 1);
          tx.setMeta('replica', { id: 'x', epoch: 'e' });
        });
        expect(await s.get('sp', 'a')).toEqual(rec(1));
        expect(await s.getMeta('seq')).toBe(1);
        expect(await s.getMeta('replica')).toEqual({ id: 'x', epoch: 'e' });
        expect(await s.get('other', 'a')).toBeUndefined();
      }));

    it('a null metadata value removes the name, also across a reopen', () =>
      withStorage(async (s, ctx) => {
        await s.transact((tx) => {
          tx.setMeta('gone', { e: 'x', s: 3 });
          tx.setMeta('kept', 2);
        });
        let now = s;
        if (ctx.reopen) {
          await now.close();
          now = await ctx.reopen();
          await now.open();
        }
        await now.transact(async (tx) => {
          tx.setMeta('gone', null);
          expect((await tx.getMeta('gone')) ?? undefined).toBeUndefined();
        });
        expect((await now.getMeta('gone')) ?? undefined).toBeUndefined();
        if (ctx.reopen) {
          await now.close();
          now = await ctx.reopen();
          await now.open();
        }
        expect((await now.getMeta('gone')) ?? undefined).toBeUndefined();
        expect(await now.getMeta('kept')).toBe(2);
        if (now !== s) await now.close();
      }));

    it('a transaction reads its own writes', () =>
      withStorage(async (s) => {
        const seen = await s.transact(async (tx) => {
          tx.put('sp', 'a', rec(1));
          tx.setMeta('seq', 7);
          return [await tx.get('sp', 'a'), await tx.getMeta('seq')];
        });
        expect(seen).toEqual([rec(1), 7]);
      }));

    it('a key written again in one transaction keeps its last write, in small and large transactions alike', () =>
      withStorage(async (s, ctx) => {
        // Spaces a<n> and b<n>: n keys spread over both, then rewrites, removals and a re-put of a removed key.
        const write = (n: number) =>
          s.transact(async (tx) => {
            for (let i = 0; i < n; i++) tx.put(`${i % 2 ? 'a' : 'b'}${n}`, `k${i}`, rec(i + 1));
            tx.put(`a${n}`, 'k1', rec(100 + n));
            tx.remove(`b${n}`, 'k2');
            tx.put(`b${n}`, 'k0', rec(200 + n));
            tx.remove(`b${n}`, 'k0');
            tx.put(`b${n}`, 'k0', rec(300 + n));
            tx.setMeta(`m${n}`, 1);
            tx.setMeta(`m${n}`, n);
            tx.put(`a${n}`, `k${n * 2 - 1}`, rec(500 + n)); // a key first written late, then rewritten
            tx.put(`a${n}`, `k${n * 2 - 1}`, rec(600 + n));
            expect(await tx.get(`a${n}`, `k${n * 2 - 1}`)).toEqual(rec(600 + n));
            return [await tx.get(`a${n}`, 'k1'), await tx.get(`b${n}`, 'k2'), await tx.get(`b${n}`, 'k0'), await tx.get(`a${n}`, 'k0'), await tx.getMeta(`m${n}`)];
          });
        for (const n of [3, 40]) expect(await write(n)).toEqual([rec(100 + n), undefined, rec(300 + n), undefined, n]);
        let now = s;
        if (ctx.reopen) {
          await now.close();
          now = await ctx.reopen();
          await now.open();
        }
        for (const n of [3, 40]) {
          expect(await now.get(`a${n}`, 'k1')).toEqual(rec(100 + n));
          expect(await now.get(`b${n}`, 'k2')).toBeUndefined();
          expect(await now.get(`b${n}`, 'k0')).toEqual(rec(300 + n));
          expect(await now.getMeta(`m${n}`)).toBe(n);
          expect(await now.get(`a${n}`, `k${n * 2 - 1}`)).toEqual(rec(600 + n));
        }
        expect(await now.get('a40', 'k39')).toEqual(rec(40));
        expect(await now.get('b40', 'k38')).toEqual(rec(39));
        expect((await now.index('b40')).length).toBe(19);
        if (now !== s) await now.close();
      }));

    it('a throwing transaction leaves nothing behind', () =>
      withStorage(async (s) => {
        await s.transact(async (tx) => tx.put('sp', 'a', rec(1)));
        await expect(
          s.transact(async (tx) => {
            tx.put('sp', 'a', rec(2));
            tx.put('sp', 'b', rec(3));
            tx.setMeta('seq', 3);
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        expect(await s.get('sp', 'a')).toEqual(rec(1));
        expect(await s.get('sp', 'b')).toBeUndefined();
        expect(await s.getMeta('seq')).toBeUndefined();
      }));

    it('serializes concurrent read-modify-write transactions (no lost update)', () =>
      withStorage(async (s) => {
        const bump = () =>
          s.transact(async (tx) => {
            const n = ((await tx.getMeta<number>('seq')) ?? 0) + 1;
            tx.setMeta('seq', n);
            return n;
          });
        const got = await Promise.all(Array.from({ length: 50 }, bump));
        expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
        expect(await s.getMeta('seq')).toBe(50);
      }));

    it('keeps one change-log entry per key, ordered by seq', () =>
      withStorage(async (s) => {
        await s.transact(async (tx) => {
          tx.put('sp', 'a', rec(1));
          tx.put('sp', 'b', rec(2));
          tx.put('sp', 'c', rec(3));
        });
        await s.transact(async (tx) => tx.put('sp', 'a', rec(4, 'a again')));
        await s.transact(async (tx) => tx.put('other', 'z', rec(5)));
        const log = await s.readLog('sp', 0, 100);
        expect(log.map(([k, r]) => [k, r.seq])).toEqual([
          ['b', 2],
          ['c', 3],
          ['a', 4],
        ]);
        expect((await s.readLog('sp', 2, 100)).map(([k]) => k)).toEqual(['c', 'a']);
        expect((await s.readLog('sp', 0, 2)).map(([k]) => k)).toEqual(['b', 'c']);
        expect(await s.readLog('sp', 4, 100)).toEqual([]);
        expect((await s.readLog('other', 0, 10)).map(([k]) => k)).toEqual(['z']);
      }));

    it('the log stays one entry per key after many rewrites', () =>
      withStorage(async (s) => {
        for (let i = 1; i <= 300; i++) await s.transact(async (tx) => tx.put('sp', `k${i % 3}`, rec(i)));
        const log = await s.readLog('sp', 0, 1000);
        expect(log.map(([k, r]) => [k, r.seq])).toEqual([
          ['k1', 298],
          ['k2', 299],
          ['k0', 300],
        ]);
      }));

    it('scans in key order with prefix and paging', () =>
      withStorage(async (s) => {
        await s.transact(async (tx) => {
          ['cart/b', 'cart/a', 'cart/c', 'carz', 'car', 'doc/1'].forEach((k, i) => tx.put('sp', k, rec(i + 1)));
        });
        const keys = async (o: Parameters<StorageAdapter['scan']>[1]) => (await s.scan('sp', o)).map(([k]) => k);
        expect(await keys({ limit: 100 })).toEqual(['car', 'cart/a', 'cart/b', 'cart/c', 'carz', 'doc/1']);
        expect(await keys({ prefix: 'cart/', limit: 100 })).toEqual(['cart/a', 'cart/b', 'cart/c']);
        expect(await keys({ prefix: 'cart/', limit: 2 })).toEqual(['cart/a', 'cart/b']);
        expect(await keys({ prefix: 'cart/', after: 'cart/b', limit: 2 })).toEqual(['cart/c']);
        expect(await keys({ prefix: 'nope', limit: 10 })).toEqual([]);
        const [[, r]] = (await s.scan('sp', { prefix: 'doc/', limit: 1 })) as [[string, KeyRecord]];
        expect(r).toEqual(rec(6));
      }));

    it('removes keys outright', () =>
      withStorage(async (s) => {
        await s.transact(async (tx) => {
          tx.put('sp', 'a', rec(1));
          tx.put('sp', 'b', rec(2));
        });
        await s.transact(async (tx) => tx.remove('sp', 'a'));
        expect(await s.get('sp', 'a')).toBeUndefined();
        expect((await s.readLog('sp', 0, 10)).map(([k]) => k)).toEqual(['b']);
        expect((await s.scan('sp', { limit: 10 })).map(([k]) => k)).toEqual(['b']);
        expect((await s.index('sp')).map((e) => e.key)).toEqual(['b']);
      }));

    it('indexes keys with seq and hash, and lists spaces', () =>
      withStorage(async (s) => {
        await s.transact(async (tx) => {
          tx.put('s1', 'a', rec(1));
          tx.put('s1', 'b', rec(2));
          tx.put('s2', 'c', rec(3));
        });
        const index = (await s.index('s1')).sort((x, y) => (x.key < y.key ? -1 : 1));
        expect(index).toEqual([
          { key: 'a', seq: 1, h: rec(1).h },
          { key: 'b', seq: 2, h: rec(2).h },
        ]);
        expect((await s.spaces()).sort()).toEqual(['s1', 's2']);
        expect(await s.index('none')).toEqual([]);
      }));

    it('keeps values exactly, unicode and large ones included', () =>
      withStorage(async (s) => {
        const big = 'x'.repeat(200_000) + 'é漢🙂';
        const r: KeyRecord = { ...rec(1), vs: [{ r: 'replicaA', n: 1, t: 5, c: 65535, v: JSON.stringify(big) }, { r: 'replicaB', n: 9, t: 6, c: 0, d: 1 }] };
        await s.transact(async (tx) => tx.put('sp', 'ключ/🙂', r));
        expect(await s.get('sp', 'ключ/🙂')).toEqual(r);
      }));

    it('keeps byte values exactly (binary and typed values), beside text values, across a reopen', async () => {
      const ctx = await setup();
      const big = new Uint8Array(100_000);
      for (let i = 0; i < big.length; i++) big[i] = (i * 7919) & 255;
      const r: KeyRecord = {
        ...rec(1),
        vs: [
          { r: 'replicaA', n: 1, t: 5, c: 0, v: big },
          { r: 'replicaB', n: 2, t: 6, c: 0, v: '"text"' },
          { r: 'replicaC', n: 3, t: 7, c: 0, v: Uint8Array.of(0, 0, 255) },
          { r: 'replicaD', n: 4, t: 8, c: 0, d: 1 },
        ],
      };
      await ctx.storage.open();
      try {
        await ctx.storage.transact(async (tx) => {
          tx.put('sp', 'bin', r);
          tx.put('sp', 'other', rec(2));
        });
        const got = await ctx.storage.get('sp', 'bin');
        expect(got).toEqual(r);
        expect(got!.vs[0]!.v instanceof Uint8Array).toBe(true);
        if (ctx.reopen) {
          await ctx.storage.close();
          const again = await ctx.reopen();
          await again.open();
          try {
            expect(await again.get('sp', 'bin')).toEqual(r);
            expect(await again.get('sp', 'other')).toEqual(rec(2));
            expect((await again.readLog('sp', 0, 10)).map(([k, x]) => [k, x])).toEqual([['bin', r], ['other', rec(2)]]);
          } finally {
            await again.close();
          }
        }
      } finally {
        await ctx.storage.close().catch(() => {});
        await ctx.cleanup?.();
      }
    });

    it('keeps versions written as deltas against the previous record (and siblings beside them) and reads them back whole, across a reopen', async () => {
      const ctx = await setup();
      const counterOf = (n: number) => counter.increment(undefined, 'a', n);
      const write = (s: StorageAdapter, i: number, sibling: boolean) =>
        s.transact(async (tx) => {
          const prev = await tx.get('sp', 'doc');
          const fields = { r: 'replicaA', n: i, t: 1_700_000_000_000 + i, c: 0 };
          const live = prev ? prev.vs.filter((v) => !v.d && v.r === 'replicaA') : [];
          const next = live.length ? derive(fields, live, counterType.encode(counterOf(i)), prev!.seq) : { ...fields, v: encodeValue(counterOf(i)) };
          const others = sibling ? [{ r: 'replicaB', n: 1, t: 5, c: 0, v: encodeValue(counter.increment(undefined, 'b', 7)) }] : (prev?.vs.filter((v) => v.r !== 'replicaA') ?? []);
          const vs = [next, ...others].sort((x, y) => (x.r < y.r ? -1 : 1));
          tx.put('sp', 'doc', { vs, cc: Object.fromEntries(vs.map((v) => [v.r, v.n])), seq: i, h: i.toString(16).padStart(16, '0') });
        });
      const check = async (s: StorageAdapter, top: number) => {
        const got = await s.get('sp', 'doc');
        expect(got!.seq).toBe(top);
        expect(got!.vs.map((v) => `${v.r}:${v.n}`)).toEqual([`replicaA:${top}`, 'replicaB:1']);
        expect(counter.value(decodeValue(valueOf(got!.vs[0]!)) as Counter)).toBe(top);
        expect(counter.value(decodeValue(valueOf(got!.vs[1]!)) as Counter)).toBe(7);
        const logged = (await s.readLog('sp', top - 1, 10))[0]![1];
        expect(counter.value(decodeValue(valueOf(logged.vs[0]!)) as Counter)).toBe(top);
      };
      await ctx.storage.open();
      try {
        // Past every chain bound there is (memory 64, disk 128), with a sibling added halfway.
        for (let i = 1; i <= 300; i++) await write(ctx.storage, i, i === 150);
        await check(ctx.storage, 300);
        if (ctx.reopen) {
          await ctx.storage.close();
          const again = await ctx.reopen();
          await again.open();
          try {
            await check(again, 300);
            for (let i = 301; i <= 310; i++) await write(again, i, false);
            await check(again, 310);
          } finally {
            await again.close();
          }
        }
      } finally {
        await ctx.storage.close().catch(() => {});
        await ctx.cleanup?.();
      }
    });

    it('what was committed survives a reopen', async () => {
      const ctx = await setup();
      if (!ctx.reopen) {
        await ctx.cleanup?.();
        return;
      }
      await ctx.storage.open();
      await ctx.storage.transact(async (tx) => {
        for (let i = 1; i <= 20; i++) tx.put('sp', `k${i}`, rec(i));
        tx.setMeta('seq', 20);
      });
      await ctx.storage.transact(async (tx) => {
        tx.put('sp', 'k1', rec(21));
        tx.remove('sp', 'k2');
        tx.setMeta('seq', 21);
      });
      await ctx.storage.close();
      const again = await ctx.reopen();
      await again.open();
      try {
        expect(await again.getMeta('seq')).toBe(21);
        expect(await again.get('sp', 'k1')).toEqual(rec(21));
        expect(await again.get('sp', 'k2')).toBeUndefined();
        expect(await again.get('sp', 'k20')).toEqual(rec(20));
        const log = await again.readLog('sp', 19, 10);
        expect(log.map(([k]) => k)).toEqual(['k20', 'k1']);
      } finally {
        await again.close();
        await ctx.cleanup?.();
      }
    });

    it('refuses use after close with a ConcordError', () =>
      withStorage(async (s) => {
        await s.close();
        await expect(s.get('sp', 'a')).rejects.toMatchObject({ name: 'ConcordError' });
        await s.open();
      }));
  });
}
