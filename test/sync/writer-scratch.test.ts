/**
 * Writers reuse a few scratch buffers (codec.ts): a frame is copied out at `finish`, and the buffer goes to the next
 * writer. Pinned here: a finished frame never changes when later frames are written (nested writers, frames larger
 * than a spare, a writer abandoned by an error), and a writer is not written after its buffer went back (`done`).
 */
import { describe, expect, it } from 'vitest';
import { ProtocolError, Reader, Writer } from '../../lib/sync/codec.js';
import { decodeMessage, encodeMessage, MsgType, type Changes } from '../../lib/sync/messages.js';

const changes = (n: number, value: string): Changes => ({
  type: MsgType.Changes,
  space: 's',
  upTo: n,
  entries: [[`k${n}`, { vs: [{ r: 'AbCdEfGhIjKlMnOp', n, t: 1_700_000_000_000 + n, c: 0, v: value }], cc: { AbCdEfGhIjKlMnOp: n } }]],
});

describe('writer scratch buffers', () => {
  it('a finished frame keeps its bytes while later frames are written', () => {
    const frames: Uint8Array[] = [];
    const copies: Uint8Array[] = [];
    for (let i = 1; i <= 50; i++) {
      // values with object keys (a nested writer makes their bytes once), and some far over a spare's size
      const f = encodeMessage(changes(i, JSON.stringify(i % 25 === 0 ? { big: 'x'.repeat(70_000 + i) } : { title: `item ${i}`, n: i })));
      frames.push(f);
      copies.push(f.slice());
    }
    for (let i = 0; i < frames.length; i++) expect(frames[i]).toEqual(copies[i]);
    for (let i = 0; i < frames.length; i++) {
      const m = decodeMessage(frames[i]!, { maxValueBytes: 1 << 20 }) as Changes;
      expect(m.upTo).toBe(i + 1);
      expect(m.entries[0]![0]).toBe(`k${i + 1}`);
    }
  });

  it('a writer abandoned by an error leaves the next frames whole', () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200; i++) deep = [deep];
    const w = new Writer();
    w.u8(7);
    expect(() => w.value(JSON.stringify(deep))).toThrow(ProtocolError);
    const a = new Writer();
    a.str('after');
    a.uint(300);
    a.f64(1.5);
    const bytes = a.finish();
    const r = new Reader(bytes);
    expect([r.str(), r.uint(), r.f64()]).toEqual(['after', 300, 1.5]);
    expect(r.remaining).toBe(0);
  });

  it('finish leaves the writer as it was; after done, a write throws', () => {
    const w = new Writer(undefined, 8);
    w.str('one');
    const first = w.finish();
    w.str('two');
    const both = w.done();
    expect(new Reader(first).str()).toBe('one');
    const r = new Reader(both);
    expect([r.str(), r.str()]).toEqual(['one', 'two']);
    expect(() => w.str('three')).toThrow(/after done/);
    expect(new Reader(both).str()).toBe('one');
  });
});
