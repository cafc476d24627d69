// Stored records that name epochs (issue 10, stage 2 item 4 of docs/design/epochs-build.md): record() stores them (a
// replica that tags writes them: test/sync/epoch-tagging.test.ts). Every adapter
// keeps a dot's epoch, a delta base's and the context's points; the snapshot's compact form names an epoch by an index
// into its table of ids.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compactable, decodeCompact, encodeCompact, IdTable, nameIds } from '../../adapters/fs/compact-record.js';
import { fileStorage } from '../../adapters/fs/index.js';
import { decodeRecord, encodeRecord, readRecordWith } from '../../adapters/fs/record.js';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { loadHasher } from '../../lib/hash.js';
import { memoryStorage } from '../../lib/index.js';
import { record as recordOf } from '../../lib/record.js';
import type { KeyRecord, StorageAdapter } from '../../lib/storage.js';

beforeAll(loadHasher);

const T = 1_700_000_000_000;
const state: KeyState = {
  vs: [
    { r: 'a', n: 7, t: T + 7, c: 0, v: JSON.stringify('a7') },
    { r: 'a', ep: 'E2', n: 12, t: T + 12, c: 1, v: JSON.stringify('a12') },
    { r: 'b', n: 2, t: T + 2, c: 0, d: 1 },
  ],
  cc: { a: 12, b: 2 },
  pts: { a: [{ e: '', n: 7 }, { e: 'E2', n: 12 }] },
};

/** What a record's state is, as compared after a round trip (values included). */
const shape = (r: KeyRecord | undefined) => r && { vs: r.vs.map((v) => ({ ...v })), cc: r.cc, pts: r.pts, seq: r.seq, h: r.h };

describe('records naming epochs', () => {
  it('record() keeps the points and hashes them apart', () => {
    const rec = recordOf('k', state, 5);
    expect(rec.pts).toEqual(state.pts);
    expect(rec.h).not.toBe(recordOf('k', { vs: state.vs, cc: state.cc }, 5).h);
    expect('pts' in recordOf('k', { vs: [state.vs[0]!], cc: { a: 7 } }, 5)).toBe(false);
  });

  it('the file log’s form keeps epochs of dots, bases and points (text and byte records)', () => {
    const rec = recordOf('k', state, 5);
    const text = encodeRecord(rec);
    expect(typeof text.text).toBe('string');
    expect(shape(decodeRecord(Buffer.from(text.text as string, 'utf8')) as KeyRecord)).toEqual(shape(rec));
    const derived: StoredVersion = { r: 'c', n: 20, t: T + 20, c: 0, v: new Uint8Array([1, 2, 3]), x: { b: [['a', 12, 'E2'], ['b', 2]], d: new Uint8Array([9]), s: 4 } };
    const withBytes = recordOf('k', { ...state, vs: [...state.vs, derived], cc: { ...state.cc, c: 20 } }, 6);
    const bytes = encodeRecord(withBytes);
    expect(Buffer.isBuffer(bytes.text)).toBe(true);
    const back = readRecordWith(decodeRecord(bytes.text as Buffer), undefined);
    expect(back.pts).toEqual(state.pts);
    expect(back.vs[1]).toMatchObject({ r: 'a', ep: 'E2', n: 12 });
    expect(back.vs[3]!.x!.b).toEqual([['a', 12, 'E2'], ['b', 2]]);
  });

  it('the snapshot’s compact form keeps them, each epoch an index into the snapshot’s table of ids', () => {
    const rec = recordOf('k', state, 5);
    expect(compactable(rec, T)).toBe(true);
    const table = new IdTable();
    const bytes = encodeCompact(rec, table, T);
    expect(table.ids).toEqual(['a', 'E2', 'b']);
    const back = decodeCompact(bytes, { ids: table.ids, base: T, used: table.used }, rec.seq, rec.h) as KeyRecord;
    expect(shape(back)).toEqual(shape(rec));
    // The compactor's count of the ids a carried record names takes its epochs too.
    const carried = new IdTable(table.ids);
    nameIds(bytes, carried);
    expect(carried.used).toBe(3);
    // Untagged: no epoch in the table, and no points.
    const plain = recordOf('p', { vs: [state.vs[0]!], cc: { a: 7 } }, 6);
    const plainTable = new IdTable();
    const back2 = decodeCompact(encodeCompact(plain, plainTable, T), { ids: plainTable.ids, base: T, used: 1 }, 6, plain.h);
    expect(plainTable.ids).toEqual(['a']);
    expect('pts' in back2).toBe(false);
    expect(shape(back2 as KeyRecord)).toEqual(shape(plain));
  });

  const adapters: Array<[string, () => Promise<{ open: () => StorageAdapter; done?: () => Promise<void> }>]> = [
    ['memory', async () => {
      const s = memoryStorage();
      return { open: () => s };
    }],
    ['file', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'concord-epoch-records-'));
      return { open: () => fileStorage(dir), done: () => rm(dir, { recursive: true, force: true }) };
    }],
    ['file (compacting)', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'concord-epoch-records-'));
      return { open: () => fileStorage(dir, { compactMinBytes: 1, compactRatio: 0, cacheRecords: 0 }), done: () => rm(dir, { recursive: true, force: true }) };
    }],
    ['indexedDB (fake)', async () => {
      const factory = new IDBFactory();
      return { open: () => indexedDBStorage('epochs', { indexedDB: factory }) };
    }],
  ];

  for (const [name, setup] of adapters) {
    it(`${name} storage reads back what it stored, across a reopen`, async () => {
      const { open, done } = await setup();
      const rec = recordOf('k', state, 5);
      const plain = recordOf('p', { vs: [state.vs[0]!], cc: { a: 7 } }, 6);
      let s = open();
      await s.open();
      await s.transact((tx) => {
        tx.put('s', 'k', rec);
        tx.put('s', 'p', plain);
      });
      // A later write of another key (compaction runs after writes where it is on).
      await s.transact((tx) => tx.put('s', 'q', recordOf('q', { vs: [state.vs[0]!], cc: { a: 7 } }, 7)));
      expect(shape(await s.get('s', 'k'))).toEqual(shape(rec));
      await s.close();
      s = open();
      await s.open();
      expect(shape(await s.get('s', 'k'))).toEqual(shape(rec));
      expect(shape(await s.get('s', 'p'))).toEqual(shape(plain));
      expect('pts' in (await s.get('s', 'p'))!).toBe(false);
      const log = await s.readLog('s', 0, 10);
      expect(shape(log.find(([k]) => k === 'k')?.[1])).toEqual(shape(rec));
      await s.close();
      await done?.();
    });
  }
});
