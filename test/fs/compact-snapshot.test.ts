// Snapshot version 3 (adapters/fs/snapshot.ts): records in the compact form where they fit, the head last. Every
// record shape reads back as written, through compactions that copy compact records and extend the table of ids;
// a store written by the code before (version 2) opens and is rewritten as version 3 at its next compaction.
import { cp, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { fileStorage, type FileStorageOptions } from '../../adapters/fs/index.js';
import { loadHasher } from '../../lib/hash.js';
import { expectHolds, snapshotFiles, tempDirsPerTest, type Row } from './helpers.js';
// @ts-expect-error: a plain module shared with the fixture's generator
import { snapshotMeta, snapshotRecords } from './fixtures/snapshot-records.mjs';

beforeAll(loadHasher);

const records = (): Row[] => snapshotRecords() as Row[];

const dir = tempDirsPerTest();

const quiet: FileStorageOptions = { compactMinBytes: 1 << 30, cacheRecords: 0 };

/** The head of a version 3 snapshot (its table of ids and how many its records name). */
async function headOf(path: string): Promise<{ ids: string[]; used: number }> {
  const b = await readFile(path);
  const len = b.readUInt32LE(b.length - 16);
  const head = b.subarray(b.length - 16 - len, b.length - 16);
  return JSON.parse(head.toString('utf8', 4, 4 + head.readUInt32LE(0))) as { ids: string[]; used: number };
}

async function magic(path: string): Promise<string> {
  return (await readFile(path)).subarray(0, 8).toString('latin1');
}

describe('compact snapshots', () => {
  it('hold every record shape as written, through a reopen and a second compaction', async () => {
    const d = await dir('compact');
    const s = fileStorage(d, quiet);
    await s.open();
    const rows = records();
    await s.transact((tx) => {
      for (const [sp, k, r] of rows) tx.put(sp, k, r);
      for (const [k, v] of Object.entries(snapshotMeta)) tx.setMeta(k, v);
    });
    await s.compactNow();
    await expectHolds(s, rows, snapshotMeta); // read from the new snapshot (no cache)
    await s.close();
    const [snap] = await snapshotFiles(d);
    expect(await magic(snap!)).toBe('CNCSNAP3');

    // New writers (ids the first table lacks) and changed keys; the unchanged compact records are copied as they are.
    const first = await readFile(snap!);
    const again = fileStorage(d, quiet);
    await again.open();
    await expectHolds(again, rows, snapshotMeta);
    const changed: Row[] = [
      ['sp', 'k3', { vs: [{ r: 'newcomer', n: 1, t: 1_796_000_100_000, c: 0, v: '"changed"' }], cc: { newcomer: 1, writer3: 3 }, seq: 200, h: '00000000000000c8' }],
      ['sp', 'late', { vs: [{ r: 'writer1', n: 90, t: 1_796_000_200_000, c: 4, d: 1 }], cc: { writer1: 90, another: 2 }, seq: 201, h: '00000000000000c9' }],
    ];
    await again.transact((tx) => {
      for (const [sp, k, r] of changed) tx.put(sp, k, r);
      tx.remove('sp', 'k4');
    });
    await again.compactNow();
    await again.close();
    const [snap2] = await snapshotFiles(d);
    expect(snap2).not.toBe(snap);
    const second = await readFile(snap2!);
    const k7 = records().find(([, k]) => k === 'k7')!;
    const needle = Buffer.from(k7[2].vs[0]!.v as string, 'utf8');
    const around = (b: Buffer) => b.subarray(b.indexOf(needle) - 8, b.indexOf(needle) + needle.length);
    expect(around(second), 'an unchanged compact record is copied byte for byte').toEqual(around(first));

    const after = rows.filter(([, k]) => k !== 'k3' && k !== 'k4').concat(changed);
    const reopened = fileStorage(d, quiet);
    await reopened.open();
    await expectHolds(reopened, after, snapshotMeta);
    expect(await reopened.get('sp', 'k4')).toBeUndefined();
    await reopened.close();
  });

  it('keep keys, texts and peers holding a lone surrogate as they were (UTF-8 cannot carry one)', async () => {
    const d = await dir('surrogates');
    const s = fileStorage(d, quiet);
    await s.open();
    const rows: Row[] = [
      ['sp', 'lone \uD800 high', { vs: [{ r: 'w', n: 1, t: 1_796_000_000_000, c: 0, v: '"fine"' }], cc: { w: 1 }, seq: 1, h: '0000000000000001' }],
      ['sp', 'fine key', { vs: [{ r: 'w', n: 2, t: 1_796_000_000_001, c: 0, v: '~text \uDC00 lone low' }], cc: { w: 2 }, seq: 2, h: '0000000000000002' }],
      ['sp', 'from a peer', { vs: [{ r: 'w', n: 3, t: 1_796_000_000_002, c: 0, v: '"p"' }], cc: { w: 3 }, seq: 3, h: '0000000000000003', src: 'peer \uD83D' }],
      ['sp', 'pair \uD83D\uDE00 ok', { vs: [{ r: 'w', n: 4, t: 1_796_000_000_003, c: 0, v: '"😀 \uD83D\uDE00"' }], cc: { w: 4 }, seq: 4, h: '0000000000000004' }],
    ];
    await s.transact((tx) => {
      for (const [sp, k, r] of rows) tx.put(sp, k, r);
    });
    await s.compactNow();
    await expectHolds(s, rows, {});
    await s.close();
    const again = fileStorage(d, quiet);
    await again.open();
    await expectHolds(again, rows, {});
    await again.close();
  });

  it('carry the table of ids over while most of it is named, and start a fresh one once most of its keys are gone', async () => {
    const d = await dir('table');
    const s = fileStorage(d, quiet);
    await s.open();
    const many = Array.from({ length: 600 }, (_, i): Row => ['sp', `w${i}`, { vs: [{ r: `writer-${i}`, n: 1, t: 1_796_000_000_000 + i, c: 0, v: `${i}` }], cc: { [`writer-${i}`]: 1 }, seq: i + 1, h: (i + 1).toString(16).padStart(16, '0') }]);
    await s.transact((tx) => {
      for (const [sp, k, r] of many) tx.put(sp, k, r);
    });
    await s.compactNow();
    let [snap] = await snapshotFiles(d);
    expect(await headOf(snap!)).toMatchObject({ used: 600 });
    await s.transact((tx) => {
      for (const [sp, k] of many.slice(100)) tx.remove(sp, k);
    });
    await s.compactNow(); // the 100 left are copied as they are: the table is kept, and 100 of its ids are named
    [snap] = await snapshotFiles(d);
    const kept = await headOf(snap!);
    expect([kept.ids.length, kept.used]).toEqual([600, 100]);
    await s.transact((tx) => tx.put('sp', 'w0', { ...many[0]![2], seq: 700 }));
    await s.compactNow(); // fewer than half named: a fresh table
    [snap] = await snapshotFiles(d);
    const fresh = await headOf(snap!);
    expect([fresh.ids.length, fresh.used]).toEqual([100, 100]);
    await expectHolds(s, [...many.slice(1, 100), ['sp', 'w0', { ...many[0]![2], seq: 700 }]], {});
    await s.close();
    const again = fileStorage(d, quiet);
    await again.open();
    await expectHolds(again, [...many.slice(1, 100), ['sp', 'w0', { ...many[0]![2], seq: 700 }]], {});
    await again.close();
  });

  it('open a version 2 snapshot written by the code before, and rewrite it as version 3 at the next compaction', async () => {
    const d = await dir('v2');
    await cp(fileURLToPath(new URL('./fixtures/snapshot-v2', import.meta.url)), d, { recursive: true });
    const [old] = await snapshotFiles(d);
    expect(await magic(old!)).toBe('CNCSNAP2');
    const oldSize = (await stat(old!)).size;
    const s = fileStorage(d, quiet);
    await s.open();
    await expectHolds(s, records(), snapshotMeta);
    await s.transact((tx) => tx.put('sp', 'k1', { vs: [{ r: 'writer1', n: 300, t: 1_796_000_300_000, c: 0, v: '"new"' }], cc: { writer1: 300 }, seq: 300, h: '000000000000012c' }));
    await s.compactNow();
    await s.close();
    const [snap] = await snapshotFiles(d);
    expect(await magic(snap!)).toBe('CNCSNAP3');
    const rows = records().filter(([, k]) => k !== 'k1');
    rows.push(['sp', 'k1', { vs: [{ r: 'writer1', n: 300, t: 1_796_000_300_000, c: 0, v: '"new"' }], cc: { writer1: 300 }, seq: 300, h: '000000000000012c' }]);
    const again = fileStorage(d, quiet);
    await again.open();
    await expectHolds(again, rows, snapshotMeta);
    await again.close();
    expect((await stat(snap!)).size, 'version 3 is smaller than the version 2 it replaced').toBeLessThan(oldSize);
  });
});
