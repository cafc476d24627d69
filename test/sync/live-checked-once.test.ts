/**
 * A LIVE frame's space and replica ids come through the connection's string table (conn-table.ts ConnTableIn): each
 * entry is checked the first time it is read as a space or as a replica id, not at every frame naming it (a relay's
 * client reads one such frame per write fanned out: S7). What a check refuses stays refused: a string entered as a key
 * and then named as a replica id, one checked as a replica id named as a space (and the other way round), a position
 * of the table emptied by a clear and filled with another string. Short strings (keys, names) read eight characters at
 * a time (ascii-text.ts): every length around the chunks, ASCII or not, reads back as written.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { Reader, Writer } from '../../lib/sync/codec.js';
import { ConnTableIn, ConnTableOut } from '../../lib/sync/conn-table.js';
import { decodeMessage, encodeMessage, MsgType, type Changes, type Entry } from '../../lib/sync/messages.js';
import { rawLive, type Body } from '../support/raw-live.js';

const RELAY = 'relay-id-aaaaaaaaaaaaaa';
const ME = 'client-id-bbbbbbbbbbbbb';
const W = 'writer-id-cccccccccccc';
const TABLE = [RELAY, ME];

const stateOf = (r: string, n: number, value: unknown): KeyState => {
  const v: StoredVersion = { r, n, t: 1_700_000_000_000 + n, c: 0, v: JSON.stringify(value) };
  return { vs: [v], cc: { [r]: n } };
};

afterEach(() => vi.restoreAllMocks());

describe('LIVE frames: space and replica ids checked once per table entry', () => {
  it("frames naming the same space and writer run the checks once, not once a frame, and decode as sent", () => {
    const out = new ConnTableOut(TABLE);
    const inn = new ConnTableIn(TABLE);
    const frames: Uint8Array[] = [];
    const sent: Changes[] = [];
    for (let i = 1; i <= 50; i++) {
      const m: Changes = { type: MsgType.Changes, space: 'space-1', upTo: i, entries: [[`k${i}`, stateOf(i % 2 ? W : RELAY, i, { title: `item ${i}`, n: i })] as Entry] };
      frames.push(encodeMessage(m, TABLE, { live: out }));
      out.commit();
      out.moved('space-1', i);
      sent.push(m);
    }
    expect(frames.every((f) => f[0] === MsgType.Live)).toBe(true);
    const test = vi.spyOn(RegExp.prototype, 'test');
    const got = frames.map((f) => decodeMessage(f, { maxValueBytes: 1 << 20, table: TABLE, conn: inn }) as Changes);
    // The space once, each writer once (W entered by the first frame, the relay a seed): 3, where every frame made 2.
    expect(test.mock.calls.length).toBeLessThanOrEqual(3);
    test.mockRestore();
    for (let i = 0; i < got.length; i++) {
      const [k, s] = got[i]!.entries[0]!;
      const [k0, s0] = sent[i]!.entries[0]!;
      expect([got[i]!.space, got[i]!.upTo, k, s.vs.map((v) => [v.r, v.n, v.t, v.v]), s.cc]).toEqual([sent[i]!.space, sent[i]!.upTo, k0, s0.vs.map((v) => [v.r, v.n, v.t, v.v]), s0.cc]);
    }
  });

  /** A LIVE body of one tombstone: space, the log one further, key, the version's replica id (no epochs: protocol 10). */
  const tombstone =
    (space: string, key: string, r: string, n: number): Body =>
    (w, sym) => {
      sym(space);
      w.uint(1);
      sym(key);
      w.uint(1 * 2); // one version, its context implied
      sym(r);
      w.uint(n);
      w.int(0);
      w.uint(0 * 4 + 1); // clock 0, a tombstone
    };

  it('a string the table holds is refused where its check fails, whatever other check it passed before', () => {
    const receiver = () => {
      const inn = new ConnTableIn(TABLE);
      const frame = rawLive(TABLE);
      return { frame, read: (f: Uint8Array) => decodeMessage(f, { maxValueBytes: 1 << 20, table: TABLE, conn: inn }) as Changes };
    };
    // A key that is no replica id, then named as the writer of a version.
    let x = receiver();
    expect(x.read(x.frame(tombstone('s', 'not an id!', W, 1))).entries[0]![0]).toBe('not an id!');
    expect(() => x.read(x.frame(tombstone('s', 'k', 'not an id!', 2)))).toThrow(/invalid replica id/);
    // A replica id checked as one (it may start with '-'), then named as the space, which may not.
    x = receiver();
    expect(x.read(x.frame(tombstone('s', 'k', '-w', 1))).entries[0]![1].vs[0]!.r).toBe('-w');
    expect(() => x.read(x.frame(tombstone('-w', 'k2', W, 2)))).toThrow(/invalid space name/);
    // A space checked as one (it may hold '.'), then named as a replica id, which may not.
    x = receiver();
    expect(x.read(x.frame(tombstone('a.b', 'k', W, 1))).space).toBe('a.b');
    expect(() => x.read(x.frame(tombstone('s', 'k2', 'a.b', 2)))).toThrow(/invalid replica id/);
    // A position checked as a replica id, emptied by a clear and filled with a string that is none.
    x = receiver();
    expect(x.read(x.frame(tombstone('s', 'k', W, 1))).entries[0]![1].vs[0]!.r).toBe(W);
    // After the clear 's' and 'k' take their positions again, and 'bad id' the one W had.
    expect(() => x.read(x.frame(tombstone('s', 'k', 'bad id', 2), true))).toThrow(/invalid replica id/);
    // An index past the table.
    x = receiver();
    x.read(x.frame(tombstone('s', 'k', W, 1)));
    expect(() => x.read(x.frame((w) => (w.uint(99), w.uint(1))))).toThrow(/unknown connection string index/);
  });
});

describe('short strings of a frame', () => {
  const roundTrip = (s: string) => {
    const w = new Writer();
    w.str(s);
    return new Reader(w.finish()).str();
  };

  it('every length around the eight-character chunks reads back, ASCII or with a character past it anywhere', () => {
    for (let len = 0; len <= 70; len++) {
      const ascii = Array.from({ length: len }, (_, i) => String.fromCharCode(32 + ((i * 7 + len) % 95))).join('');
      expect(roundTrip(ascii)).toBe(ascii);
      for (let at = 0; at < len; at++) {
        for (const c of ['é', '\u0080', '€', '😀']) {
          const s = ascii.slice(0, at) + c + ascii.slice(at + 1);
          expect(roundTrip(s)).toBe(s);
        }
      }
    }
    expect(roundTrip('\u0000\u007f\u0001')).toBe('\u0000\u007f\u0001');
  });

  it('bytes that are no UTF-8 are refused, wherever they stand in a short string', () => {
    for (const bad of [[0xff], [0x61, 0xc3], [0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x80], [0xed, 0xa0, 0x80]]) {
      const w = new Writer();
      w.uint(bad.length);
      for (const b of bad) w.u8(b);
      expect(() => new Reader(w.finish()).str(), `bytes ${bad}`).toThrow(/invalid UTF-8/);
    }
  });

  it('a short ASCII string is made eight characters at a time', () => {
    const w = new Writer();
    w.str('item 12345678');
    const r = new Reader(w.finish());
    const made = vi.spyOn(String, 'fromCharCode');
    expect(r.str()).toBe('item 12345678');
    // 13 characters: one call of eight, two of two, one of one — where one a character made 13.
    expect(made.mock.calls.length).toBeLessThanOrEqual(4);
  });
});
