/**
 * rev46: links alike that take the same frame stay alike whatever other links of their state took between them in
 * the fan-out (table-state.ts `after`). A relay serving peers of protocol 10 beside 11 writes a write naming an
 * epoch to the 11 links as LIVE frames and to the 10 links as a context in a CHANGES frame: in the fan-out's order
 * they alternate, and each change out of one state must lead to its own state, not to a new one for every link that
 * comes after a link that moved otherwise.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { randomId } from '../../lib/ids.js';
import { ConnTableIn, ConnTableOut } from '../../lib/sync/conn-table.js';
import { decodeMessage, encodeMessage, MsgType, type Changes, type Entry } from '../../lib/sync/messages.js';
import { byDot, dotsContext } from '../../lib/sync/wire-state.js';

const W = 'writer-id-eeeeeeeeeeee';
const version = (n: number): StoredVersion => ({ r: W, n, t: 1_700_000_000_000 + n, c: 0, v: JSON.stringify({ n }) });
const stateOf = (vs: StoredVersion[]): KeyState => {
  const sorted = [...vs].sort(byDot);
  return { vs: sorted, ...dotsContext(sorted) };
};

interface Link {
  readonly peer: string;
  readonly out: ConnTableOut;
  readonly inn: ConnTableIn;
}

/** Sends `m` on `l` as a session does (wire.ts `sent`), and checks the peer decodes it. */
function put(relay: string, l: Link, m: Changes): Uint8Array {
  const frame = encodeMessage(m, [relay, l.peer], { live: l.out });
  l.out.commit();
  if (m.upTo > 0) l.out.moved(m.space, m.upTo);
  const got = decodeMessage(frame, { maxValueBytes: 1 << 20, table: [relay, l.peer], conn: l.inn }) as Changes;
  expect(got.entries.map(([k]) => k)).toEqual(m.entries.map(([k]) => k));
  return frame;
}

describe('LIVE frames shared between links alike, whatever the fan-out order', () => {
  it('links that took the same LIVE frame share the next one though a link between them took a CHANGES frame', () => {
    // Fails where a state remembered one change out of it (the latest): the link after the one that moved otherwise
    // went to a state of its own, and no link shared a frame with it again.
    const relay = randomId();
    const ls: Link[] = Array.from({ length: 4 }, () => {
      const peer = randomId();
      return { peer, out: new ConnTableOut([relay, peer]), inn: new ConnTableIn([relay, peer]) };
    });
    // Links 0 and 2 take every write as a LIVE frame; links 1 and 3, of an earlier release, as a CHANGES frame (here: a
    // second entry beside it, as a context would go), in the order of the relay's fan-out: 0, 1, 2, 3.
    const entries = new Map<number, Entry>();
    const e = (i: number): Entry => entries.get(i) ?? (entries.set(i, [`k${i}`, stateOf([version(i)])]), entries.get(i)!);
    let shared = 0;
    for (let i = 1; i <= 5; i++) {
      const live: Changes = { type: MsgType.Changes, space: 's', upTo: i, entries: [e(i)] };
      const changes: Changes = { type: MsgType.Changes, space: 's', upTo: i, entries: [e(i), [`c${i}`, stateOf([version(100 + i)])]] };
      const f0 = put(relay, ls[0]!, live);
      put(relay, ls[1]!, changes);
      const f2 = put(relay, ls[2]!, live);
      put(relay, ls[3]!, changes);
      if (i > 1) {
        expect(f2, `write ${i}`).toBe(f0);
        shared++;
      }
    }
    expect(shared).toBe(4);
  });
});
