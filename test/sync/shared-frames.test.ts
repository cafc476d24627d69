/**
 * Encode once (shared-frames.ts): a CHANGES frame of the same entries is made once for the sessions it can be shared
 * with, and every session's frame decodes, through that session's own string table, to exactly what was sent.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import { randomId } from '../../lib/ids.js';
import { decodeMessage, MsgType, type Changes, type Entry } from '../../lib/sync/messages.js';
import { encodeChangesOnce } from '../../lib/sync/shared-frames.js';

const relay = randomId();
const writer = randomId();
const [a, b, c] = [randomId(), randomId(), randomId()];

const state = (r: string, n: number, value: unknown, cc?: Record<string, number>): KeyState => ({
  vs: [{ r, n, t: 1_700_000_000_000 + n, c: 0, v: JSON.stringify(value) }],
  cc: cc ?? { [r]: n },
});

function decoded(frame: Uint8Array, peer: string): Changes {
  // The receiver's table: the sender's id first, then its own.
  return decodeMessage(frame, { maxValueBytes: 1 << 20, table: [relay, peer] }) as Changes;
}

describe('CHANGES frames shared between sessions', () => {
  it('the same entries go as the same bytes to peers the frame does not mention, and decode alike', () => {
    const entries: Entry[] = [
      ['k1', state(writer, 1, { title: 'item 1', done: false, n: 1 })],
      ['k2', state(writer, 2, { title: 'item 2', done: true, n: 2 })],
    ];
    const m: Changes = { type: MsgType.Changes, space: 's', upTo: 7, entries };
    const fa = encodeChangesOnce(m, [relay, a], undefined);
    const fb = encodeChangesOnce({ ...m }, [relay, b], undefined);
    expect(fb).toBe(fa);
    for (const p of [a, b]) expect(decoded(fa, p)).toEqual(m);
    // Another upTo, or other entries, is another frame.
    expect(encodeChangesOnce({ ...m, upTo: 8 }, [relay, c], undefined)).not.toBe(fa);
  });

  it('a frame naming a peer is encoded for that peer (its id is in its table seed), and not shared with others', () => {
    // b wrote a version the writer's state now holds in its context: b's id is in the frame.
    const entries: Entry[] = [['k', { vs: state(writer, 3, { x: 1 }).vs, cc: { [writer]: 3, [b]: 5 } }]];
    const m: Changes = { type: MsgType.Changes, space: 's', upTo: 9, entries };
    const fa = encodeChangesOnce(m, [relay, a], undefined);
    const fb = encodeChangesOnce(m, [relay, b], undefined);
    const fc = encodeChangesOnce(m, [relay, c], undefined);
    expect(fb).not.toBe(fa);
    expect(fc).toBe(fa);
    for (const [f, p] of [[fa, a], [fb, b], [fc, c]] as const) expect(decoded(f, p)).toEqual(m);
    // The same when the peer the frame names is the first to ask.
    const m2: Changes = { ...m, upTo: 10 };
    const gb = encodeChangesOnce(m2, [relay, b], undefined);
    const ga = encodeChangesOnce(m2, [relay, a], undefined);
    expect(ga).not.toBe(gb);
    expect(decoded(ga, a)).toEqual(m2);
    expect(decoded(gb, b)).toEqual(m2);
  });

  it('an object key equal to the peer id in a value is a mention too', () => {
    const entries: Entry[] = [['k', state(writer, 4, { [c]: 1, [a]: 2 })]];
    const m: Changes = { type: MsgType.Changes, space: 's', upTo: 11, entries };
    const fa = encodeChangesOnce(m, [relay, a], undefined);
    const fc = encodeChangesOnce(m, [relay, c], undefined);
    const fb = encodeChangesOnce(m, [relay, b], undefined);
    for (const [f, p] of [[fa, a], [fb, b], [fc, c]] as const) expect(decoded(f, p)).toEqual(m);
  });
});
