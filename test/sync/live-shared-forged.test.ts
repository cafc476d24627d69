/**
 * rev45c: attacks on LIVE frames shared between links alike (live-shared.ts, table-state.ts) by a peer whose id is
 * not its own: one that says it is the relay (its table's two seeds equal) or the writer of the versions the frames
 * carry. Every link's frame must decode, through that link's own table, to exactly what was sent.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { randomId } from '../../lib/ids.js';
import { ConnTableIn, ConnTableOut } from '../../lib/sync/conn-table.js';
import { decodeMessage, encodeMessage, MsgType, type Changes, type Entry } from '../../lib/sync/messages.js';
import { byDot, dotsContext } from '../../lib/sync/wire-state.js';

const W = 'writer-id-dddddddddddd';
const version = (r: string, n: number, value: unknown): StoredVersion => ({ r, n, t: 1_700_000_000_000 + n, c: 0, v: JSON.stringify(value) });
const stateOf = (vs: StoredVersion[]): KeyState => {
  const sorted = [...vs].sort(byDot);
  return { vs: sorted, ...dotsContext(sorted) };
};
const norm = (m: Changes) => ({ space: m.space, upTo: m.upTo, entries: m.entries.map(([k, s]) => [k, s.vs.map((v) => [v.r, v.n, v.t, v.v]), s.cc]) });

describe('LIVE frames shared with forged peer ids', () => {
  it("a peer claiming the relay's id or the writer's: each link decodes exactly what was sent, in any order of writing", () => {
    const relay = randomId();
    let shared = 0;
    for (const order of [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2]]) {
      const peers = [randomId(), relay, W, randomId()];
      const ls = peers.map((p) => ({ p, out: new ConnTableOut([relay, p]), inn: new ConnTableIn([relay, p]) }));
      for (let i = 1; i <= 6; i++) {
        const writer = i % 2 === 0 ? W : relay;
        const key = i === 3 ? relay : i === 5 ? W : `k${i}`;
        const m: Changes = { type: MsgType.Changes, space: 's', upTo: i, entries: [[key, stateOf([version(writer, i, { i })])] as Entry] };
        const frames: Uint8Array[] = [];
        for (const j of order) {
          const l = ls[j]!;
          const frame = encodeMessage(m, [relay, l.p], { live: l.out });
          l.out.commit();
          l.out.moved('s', i);
          const got = decodeMessage(frame, { maxValueBytes: 1 << 20, table: [relay, l.p], conn: l.inn }) as Changes;
          expect(norm(got), `order ${order} write ${i} link ${j}`).toEqual(norm(m));
          if (frames.includes(frame)) shared++;
          frames.push(frame);
        }
      }
    }
    expect(shared).toBeGreaterThan(0); // the links alike did share: the check above is on shared frames
  });
});
