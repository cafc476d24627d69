// Frames and checksums: the portable CRC-32 matches the native one, frames round-trip and any flipped
// bit is caught.
import { describe, expect, it } from 'vitest';
import { crc32, crc32Range, crc32Table } from '../../adapters/fs/crc32.js';
import { change, encodeBatch, FRAME_HEADER, frameChecks, framePieces, LAST_IN_GROUP, MAGIC, parseHead, readFrameHeader, RecordArea, writeFrame } from '../../adapters/fs/frame.js';
import { rec } from '../storage/contract.js';

describe('crc32', () => {
  it('crc32Range over any range of random bytes is the CRC of its bytes (short ones table-driven, long ones native)', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 1_000_000);
    let s = seed || 1;
    const next = () => ((s = (s * 1_103_515_245 + 12_345) >>> 0) >>> 8) & 0xff;
    const data = Buffer.alloc(4096);
    for (let i = 0; i < data.length; i++) data[i] = next();
    for (let n = 0; n < 2000; n++) {
      const start = (next() << 4) % data.length;
      const end = Math.min(data.length, start + (n % 10 === 0 ? next() * 8 : next() % 300));
      const want = crc32Table(data.subarray(start, end));
      if (crc32Range(data, start, end) !== want) throw new Error(`seed ${seed} (SEED=${seed} replays): range ${start}..${end}`);
    }
    expect(crc32Range(Buffer.from('123456789'), 0, 9)).toBe(0xcbf43926);
    expect(crc32Range(Buffer.alloc(0), 0, 0)).toBe(0);
  });

  it('matches the standard check value and the native implementation', () => {
    expect(crc32Table(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 31) & 0xff));
    expect(crc32Table(data)).toBe(crc32(data));
    expect(crc32Table(data.subarray(500), crc32Table(data.subarray(0, 500)))).toBe(crc32(data));
    expect(crc32('é漢🙂')).toBe(crc32(Buffer.from('é漢🙂', 'utf8')));
  });
});

describe('frames', () => {
  const batch = () => encodeBatch([change('sp', 'a', rec(1, 'é漢🙂')), change('sp', 'b', null), change('other', 'c', rec(2))], new Map([['seq', 2]]));

  it('round-trip: head, records at their offsets, group and flags', () => {
    const b = batch();
    const out = Buffer.alloc(FRAME_HEADER + b.length);
    expect(writeFrame(out, 0, b, 7, LAST_IN_GROUP)).toBe(out.length);
    const h = readFrameHeader(out, 0)!;
    expect(h).toMatchObject({ length: b.length, headLen: b.headLen, group: 7, flags: LAST_IN_GROUP });
    const payload = out.subarray(FRAME_HEADER);
    expect(frameChecks(out, 0, h, payload)).toBe(true);
    const head = parseHead(payload.subarray(0, h.headLen), 'test');
    expect(head.m).toEqual({ seq: 2 });
    expect(head.o.map((op) => op.slice(0, 2))).toEqual([['sp', 'a'], ['sp', 'b'], ['other', 'c']]);
    const a = b.changes[0]!;
    expect(JSON.parse(payload.subarray(a.rel, a.rel + a.len).toString('utf8'))).toEqual(rec(1, 'é漢🙂'));
    expect(crc32(payload.subarray(a.rel, a.rel + a.len))).toBe(a.crc);
  });

  it("a frame's pieces (what the log writer hands to the file) joined are the bytes of the frame as one buffer", () => {
    // The frame laid out whole, as the writer did before it wrote pieces: header fields, head, records, then one CRC
    // over bytes 4..20 and the payload. Files written either way are the same bytes.
    const values = Array.from({ length: 600 }, (_, i) => (i % 9 === 1 ? '漢🙂é'.repeat(90 + i) : `v${i}`));
    const b = encodeBatch(values.map((v, i) => change('sp', `k${i}`, rec(i + 1, v))), new Map([['seq', 600]]));
    expect(b.records.length).toBeGreaterThan(1);
    const whole = Buffer.concat([Buffer.alloc(FRAME_HEADER), b.head, ...b.records]);
    MAGIC.copy(whole, 0);
    whole.writeUInt32LE(b.length, 4);
    whole.writeUInt32LE(b.headLen, 8);
    whole.writeUInt32LE(9, 12);
    whole.writeUInt32LE(LAST_IN_GROUP, 16);
    whole.writeUInt32LE(crc32(whole.subarray(FRAME_HEADER), crc32(whole.subarray(4, 20))), 20);
    const pieces = framePieces(b, 9, LAST_IN_GROUP);
    expect(pieces.length).toBe(2 + b.records.length);
    expect(pieces.slice(2).every((p, i) => p === b.records[i])).toBe(true); // the records' own buffers, not copies
    expect(Buffer.concat(pieces).equals(whole)).toBe(true);
  });

  it('every single flipped bit fails the checksum or the header', () => {
    const b = batch();
    const out = Buffer.alloc(FRAME_HEADER + b.length);
    writeFrame(out, 0, b, 1, 0);
    for (let i = 0; i < out.length; i += 7) {
      const bad = Buffer.from(out);
      bad[i] = bad[i]! ^ (1 << i % 8);
      const h = readFrameHeader(bad, 0);
      const ok = h !== undefined && FRAME_HEADER + h.length <= bad.length && frameChecks(bad, 0, h, bad.subarray(FRAME_HEADER, FRAME_HEADER + h.length));
      expect(ok, `bit flipped at byte ${i}`).toBe(false);
    }
  });
});

describe('record area', () => {
  // Records wait for the group write as bytes in 64 KiB chunks (one written past a chunk's end starts the next one, a
  // larger one gets a chunk of its own): every record must come back whole, at its offset, with its own CRC.
  it('records over many chunks, one larger than a chunk, multi-byte text at the edges: each read back at its offset', () => {
    const values = Array.from({ length: 1200 }, (_, i) => (i % 7 === 3 ? '漢🙂é'.repeat(60 + i) : `v${i}-`.repeat(i % 50)));
    values[600] = 'x'.repeat(200_000) + '漢';
    const changes = values.map((v, i) => change('sp', `k${i}`, rec(i + 1, v)));
    changes.splice(100, 0, change('sp', 'gone', null));
    const b = encodeBatch(changes, new Map());
    expect(b.records.length).toBeGreaterThan(3);
    const out = Buffer.alloc(FRAME_HEADER + b.length);
    expect(writeFrame(out, 0, b, 1, LAST_IN_GROUP)).toBe(out.length);
    const payload = out.subarray(FRAME_HEADER);
    expect(frameChecks(out, 0, readFrameHeader(out, 0)!, payload)).toBe(true);
    const puts = b.changes.filter((c) => c.rec !== null);
    expect(puts).toHaveLength(values.length);
    puts.forEach((c, i) => {
      const bytes = payload.subarray(c.rel, c.rel + c.len);
      expect(JSON.parse(bytes.toString('utf8'))).toEqual(rec(i + 1, values[i]));
      expect(crc32(bytes)).toBe(c.crc);
    });
  });

  it('a batch of megabytes takes 64 KiB chunks, however many (a shift past 31 bits once gave each record its own)', () => {
    const area = new RecordArea();
    const text = JSON.stringify({ title: 'x'.repeat(120) });
    const n = 40_000; // ~5 MB
    for (let i = 0; i < n; i++) area.append(text);
    const parts = area.parts();
    const bytes = parts.reduce((s, p) => s + p.length, 0);
    expect(bytes).toBe(n * text.length);
    expect(parts.length).toBeLessThan(bytes / 60_000 + 8);
    expect(Buffer.concat(parts).subarray(0, 2 * text.length).toString()).toBe(text + text);
  });

  it('bytes records are copied in as they are', () => {
    const area = new RecordArea();
    expect(area.append(Buffer.from([1, 2, 3]))).toBe(3);
    expect(area.crc).toBe(crc32(Buffer.from([1, 2, 3])));
    expect(area.append('é')).toBe(2);
    expect(area.crc).toBe(crc32(Buffer.from('é', 'utf8')));
    expect(Buffer.concat(area.parts())).toEqual(Buffer.from([1, 2, 3, 0xc3, 0xa9]));
  });
});
