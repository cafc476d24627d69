/**
 * The log's binary record (adapters/fs/log-record.ts, record format 2): a plain record is stored so, its frame's head
 * marks it for the releases before it to refuse; a directory written by the release before (fixtures/log-v1, written by
 * main at 658af3b with fixtures/make-log-v1.mjs) opens, takes new writes beside its JSON records and compacts both into
 * a snapshot those releases read; a record form this release does not know is refused at open.
 */
import { cp, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { crc32 } from '../../adapters/fs/crc32.js';
import { FRAME_HEADER, parseHead, readFrameHeader, type HeadOp } from '../../adapters/fs/frame.js';
import { fileStorage, nodeIo, type FileStorageOptions } from '../../adapters/fs/index.js';
import { Keyspace } from '../../adapters/fs/keyspace.js';
import { loadSnapshot } from '../../adapters/fs/snapshot.js';
import { loadHasher } from '../../lib/hash.js';
import type { KeyRecord } from '../../lib/storage.js';
import { expectHolds, segmentFiles, snapshotFiles, tempDirsPerTest, type Row } from './helpers.js';
// @ts-expect-error: a plain module shared with the fixture's generator
import { snapshotMeta, snapshotRecords } from './fixtures/snapshot-records.mjs';

beforeAll(loadHasher);

const dir = tempDirsPerTest();

const quiet: FileStorageOptions = { compactMinBytes: 1 << 30, cacheRecords: 0 };
const T = 1_796_662_187_259;
/** A record as S4's puts make it (one writer, a JSON value). */
const s4 = (seq: number, r = 'SiNz4kEoZURqaip5'): KeyRecord => ({
  vs: [{ r, n: seq, t: T + seq, c: 0, v: JSON.stringify({ title: `item ${seq}`, done: seq % 2 === 0, n: seq }) }],
  cc: { [r]: seq },
  seq,
  h: seq.toString(16).padStart(16, '0'),
});
/** Many writers and siblings: more names than the form looks up (log-record.ts LOOKED_UP), some given twice. */
function crowded(seq: number): KeyRecord {
  const cc: Record<string, number> = {};
  for (let i = 0; i < 40; i++) cc[`writer-${i}`] = i + 1;
  const vs = Array.from({ length: 20 }, (_, i) => ({ r: `writer-${(i * 7) % 40}`, n: ((i * 7) % 40) + 1, t: T - i, c: i, v: `"${i}"` }));
  return { vs, cc, seq, h: seq.toString(16).padStart(16, '0') };
}
/** Its times count from 0 in the log (below 2^51), yet lie 2^51 or more from a snapshot's base: not compact there. */
const farPast = (seq: number): KeyRecord => ({ vs: [{ r: 'w', n: seq, t: -(2 ** 51) + 2 ** 30, c: 0, v: '"old clock"' }], cc: { w: seq }, seq, h: seq.toString(16).padStart(16, '0') });

/** Each frame's ops and each put's stored bytes, in a log segment. */
async function framesOf(path: string): Promise<Array<{ op: HeadOp; bytes?: Buffer }>> {
  const buf = await readFile(path);
  const out: Array<{ op: HeadOp; bytes?: Buffer }> = [];
  for (let at = 0; at < buf.length; ) {
    const h = readFrameHeader(buf, at)!;
    const head = parseHead(buf.subarray(at + FRAME_HEADER, at + FRAME_HEADER + h.headLen), path);
    let off = at + FRAME_HEADER + h.headLen;
    for (const op of head.o) {
      if (op.length === 2) out.push({ op });
      else {
        out.push({ op, bytes: buf.subarray(off, off + op[4]) });
        off += op[4];
      }
    }
    at += FRAME_HEADER + h.length;
  }
  return out;
}

describe("the log's binary record", () => {
  it('stores a plain record in under half its JSON, its head op marked 2 (which a release before refuses); others as before', async () => {
    const d = await dir('logrec');
    const rows: Row[] = [['sp', 'a', s4(1)], ['sp', 'many', crowded(2)], ['sp', 'past', farPast(3)], ['sp', 'odd time', { ...s4(4), vs: [{ ...s4(4).vs[0]!, t: T + 0.5 }] }]];
    rows.push(['sp', 'bytes', { vs: [{ r: 'w', n: 5, t: T, c: 0, v: new Uint8Array([0, 2, 255]) }], cc: { w: 5 }, seq: 5, h: '0000000000000005' }]);
    // a forged id holding a lone surrogate (UTF-8 cannot carry it): its JSON; large texts, ASCII and not: past a chunk
    rows.push(['sp', 'forged', { ...s4(6, 'w\uD800'), h: '0000000000000006' }]);
    rows.push(['sp', 'large', { ...s4(7), vs: [{ ...s4(7).vs[0]!, v: JSON.stringify('x'.repeat(200_000)) }] }]);
    rows.push(['sp', 'large ü', { ...s4(8), vs: [{ ...s4(8).vs[0]!, v: JSON.stringify('ü漢🙂'.repeat(30_000)) }] }]);
    const s = fileStorage(d, { ...quiet, compactOnClose: false });
    await s.open();
    await s.transact((tx) => {
      for (const [space, key, rec] of rows) tx.put(space, key, rec);
    });
    await s.close();
    const [seg] = await segmentFiles(d);
    const frames = await framesOf(seg!);
    const form = (key: string) => frames.find((f) => f.op[1] === key)!;
    for (const key of ['a', 'many', 'past', 'large', 'large ü']) {
      const { op, bytes } = form(key);
      expect(op[6], key).toBe(2);
      expect(bytes![0], key).toBe(0x02);
      // the check of the releases before it: a 7th field of 1 (chained) alone
      expect(op.length === 7 && op[6] !== 1, `${key}: refused by a release before`).toBe(true);
    }
    expect(form('a').bytes!.length * 2).toBeLessThan(JSON.stringify(s4(1)).length);
    // a time that is not a whole number: its JSON; a byte value: the earlier binary form; neither marked
    expect(form('odd time').op).toHaveLength(6);
    expect(form('odd time').bytes![0]).toBe(0x7b);
    expect(form('bytes').op).toHaveLength(6);
    expect(form('bytes').bytes![0]).toBe(0x00);
    expect(form('forged').op).toHaveLength(6);
    expect(form('forged').bytes![0]).toBe(0x7b);
    const again = fileStorage(d, quiet);
    await again.open();
    await expectHolds(again, rows, {});
    await again.close();
  });

  it('opens a directory the release before wrote, adds binary records beside its JSON ones, and compacts both into a snapshot of no binary record', async () => {
    const d = await dir('logv1');
    await cp(fileURLToPath(new URL('./fixtures/log-v1', import.meta.url)), d, { recursive: true });
    const before = (snapshotRecords() as Row[]).slice();
    const s = fileStorage(d, quiet);
    await s.open();
    await expectHolds(s, before, snapshotMeta);
    expect(await s.get('sp', 'gone')).toBeUndefined();
    const later: Row[] = [['sp', 'k1', s4(301)], ['sp', 'k2', crowded(302)], ['sp', 'new', s4(303)], ['sp', 'past', farPast(304)], ['other space', 'o1', s4(305, 'writer9')]];
    await s.transact((tx) => {
      for (const [space, key, rec] of later) tx.put(space, key, rec);
      tx.setMeta('seq', 305);
    });
    await s.close();
    const rows = [...before.filter(([space, key]) => !later.some(([sp, k]) => sp === space && k === key)), ...later];
    const meta = { ...snapshotMeta, seq: 305 };
    const segs = await segmentFiles(d);
    const forms = (await Promise.all(segs.map(framesOf))).flat().map((f) => f.bytes?.[0]);
    expect(forms, 'a log of both forms').toContain(0x02);
    expect(forms).toContain(0x7b);
    const mixed = fileStorage(d, quiet);
    await mixed.open();
    await expectHolds(mixed, rows, meta);
    await mixed.compactNow();
    await mixed.close();
    // the snapshot: every record readable by the releases reading version 3 (compact, JSON, or the earlier binary form)
    const [snap] = await snapshotFiles(d);
    const ks = new Keyspace();
    const file = await loadSnapshot(nodeIo, snap!, 'snap', ks);
    const bytes = await readFile(snap!);
    for (const [space, key] of rows) {
      const e = ks.get(space, key)!;
      expect([0x00, 0x01, 0x7b], `${space}/${key} in the snapshot`).toContain(bytes[e.off]);
    }
    expect(bytes[ks.get('sp', 'past')!.off], 'not compact there: written as its JSON').toBe(0x7b);
    await file.close();
    const compacted = fileStorage(d, quiet);
    await compacted.open();
    await expectHolds(compacted, rows, meta);
    await compacted.close();
  });

  it("refuses at open a record form it does not read (a later release's), naming it", async () => {
    const d = await dir('logform');
    const s = fileStorage(d, quiet);
    await s.open();
    await s.transact((tx) => tx.put('sp', 'a', s4(1)));
    await s.close();
    const [seg] = await segmentFiles(d);
    const buf = await readFile(seg!);
    const h = readFrameHeader(buf, 0)!;
    const head = buf.toString('latin1', FRAME_HEADER, FRAME_HEADER + h.headLen);
    expect(head).toContain(',2]');
    buf.write(head.replace(',2]', ',4]'), FRAME_HEADER, 'latin1');
    buf.writeUInt32LE(crc32(buf.subarray(FRAME_HEADER, FRAME_HEADER + h.length), crc32(buf.subarray(4, 20))), 20);
    await writeFile(join(d, seg!.slice(d.length + 1)), buf);
    await expect(fileStorage(d, quiet).open()).rejects.toThrow(/form 4, which this release does not read \(written by a later release/);
  });
});
