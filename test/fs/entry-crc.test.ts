// An index entry keeps its record's CRC-32 as a signed 32-bit integer (keyspace.ts Entry): V8 holds a number outside
// that range as a heap number of its own, and a field that ever held one holds every value so — an object more per
// entry, kept by every put in flight until its fsync (S4, issue 14). The CRC it answers is the unsigned one frames and
// snapshots name, before and after compaction stores the record whole again (standAlone), and through a reopen.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { Entry } from '../../adapters/fs/keyspace.js';
import { loadHasher } from '../../lib/hash.js';
import { rec } from '../storage/contract.js';

beforeAll(loadHasher);

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** The numbers an object holds in its own fields that are no signed 32-bit integer. */
const wide = (o: object) => Object.values(o).filter((v) => typeof v === 'number' && (v | 0) !== v);

describe('file storage index entries and their CRC', () => {
  it('an entry answers the unsigned CRC and holds no number outside 32-bit integers, also once stored whole again', () => {
    for (const crc of [0, 1, 0x7fffffff, 0x80000000, 0xfedcba98, 0xffffffff]) {
      const e = new Entry(7, '0123456789abcdef', 40, crc, rec(7));
      expect(e.crc).toBe(crc);
      expect(wide(e)).toEqual([]);
      e.standAlone(41, 0xffffffff - crc);
      expect(e.crc).toBe(0xffffffff - crc);
      expect(e.len).toBe(41);
      expect(wide(e)).toEqual([]);
    }
  });

  it('a CRC field that is no CRC-32 (a frame head checked for a number only) matches no record, not by its low 32 bits', () => {
    for (const bad of [2 ** 32 + 5, -5, 1.5, 2 ** 53, Infinity]) {
      const e = new Entry(7, '0123456789abcdef', 40, bad, undefined);
      expect([5, 4294967291, 1, 0].includes(e.crc)).toBe(false);
      expect(e.crc).toBe(-1);
    }
  });

  it('records whose CRCs lie on both sides of 2^31 read back, before and after a reopen and a compaction', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-crc-'));
    dirs.push(dir);
    let s = fileStorage(dir, { compactOnClose: false });
    await s.open();
    for (let i = 1; i <= 64; i++) await s.transact((tx) => tx.put('sp', `k${i}`, rec(i)));
    const high = (s as unknown as { ks: { get(sp: string, k: string): Entry } }).ks;
    const crcs = Array.from({ length: 64 }, (_, i) => high.get('sp', `k${i + 1}`).crc);
    expect(crcs.some((c) => c >= 2 ** 31)).toBe(true);
    expect(crcs.some((c) => c < 2 ** 31)).toBe(true);
    const read = async () => {
      for (let i = 1; i <= 64; i++) expect(await s.get('sp', `k${i}`)).toEqual(rec(i));
    };
    await read();
    await s.close();
    s = fileStorage(dir, { compactOnClose: false, cacheRecords: 1 });
    await s.open();
    await read();
    await s.compactNow();
    await read();
    await s.close();
    s = fileStorage(dir, { cacheRecords: 1 });
    await s.open();
    await read();
    await s.close();
  });
});
