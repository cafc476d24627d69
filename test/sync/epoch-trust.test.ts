/**
 * Whom a protocol 11 frame may teach epoch records (docs/design/epochs-build.md, items 2 and 3; lib/sync/wire.ts
 * EpochChains.others): an epoch's record is fixed once learned, so a record taken from a peer about a third replica's
 * epoch could never be corrected by that replica's true record. A frame teaches records of its sender's own epochs;
 * of another replica's only when its sender is a relay the receiver trusts. A record conflicting with a known one
 * refuses the frame (ProtocolError: the session closes with the reason), and a frame's table is bounded as an EPOCHS
 * frame is (MAX_FRAME_RECORDS).
 */
import { describe, expect, it } from 'vitest';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { Epochs, MAX_FRAME_RECORDS, UNTAGGED } from '../../lib/epoch-points.js';
import { ProtocolError } from '../../lib/sync/codec.js';
import { MsgType } from '../../lib/sync/messages.js';
import { Wire, type EpochChains } from '../../lib/sync/wire.js';

const ME = 'sender-id-aaaaaaaaaaaa';
const PEER = 'receiver-id-bbbbbbbbbb';
const THIRD = 'third-id-cccccccccccc';
const FRAME = 1 << 22;

function wire(reg: Epochs, me: string, peer: string, terms: EpochChains): Wire {
  const w = new Wire(
    (e) => {
      throw e;
    },
    () => {},
    () => reg,
  );
  w.start(me, peer, 0, terms);
  return w;
}

/** The frames `sent` (its registry) writes for `state`, decoded by a receiver with registry `learned` and `terms`. */
function carry(sent: Epochs, state: KeyState, learned: Epochs, terms: EpochChains): void {
  const sender = wire(sent, ME, PEER, { mine: [], theirs: [] });
  const receiver = wire(learned, PEER, ME, terms);
  const frames: Uint8Array[] = [];
  sender.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', state]] }, FRAME, (f) => frames.push(f));
  expect(frames.length).toBeGreaterThan(0);
  for (const f of frames) receiver.decode(f, FRAME);
}

const version = (r: string, n: number, ep: string): StoredVersion => ({ r, n, t: 1, c: 0, v: '1', ep });
const stateOf = (vs: StoredVersion[]): KeyState => ({ vs, cc: Object.fromEntries(vs.map((v) => [v.r, v.n])), pts: Object.fromEntries(vs.map((v) => [v.r, [{ e: v.ep!, n: v.n }]])) });

describe('records a protocol 11 frame may teach', () => {
  // The sender holds a false record for THIRD's epoch T2 (under T1 at 3; THIRD's true record: a root fork at 0).
  const forged = () => {
    const sent = new Epochs();
    sent.learn(THIRD, [
      ['T1', 1],
      ['T2', 3],
    ]);
    return sent;
  };
  const state = stateOf([version(THIRD, 4, 'T2')]);

  it("a peer that is not a trusted relay cannot fix a third replica's epoch: its true record is still taken later", () => {
    const learned = new Epochs();
    carry(forged(), state, learned, { mine: [], theirs: [] });
    expect(learned.knows(THIRD, 'T2'), 'nothing learned of THIRD from ME').toBe(false);
    expect(learned.knows(THIRD, 'T1')).toBe(false);
    // THIRD itself (its EPOCHS frame) tells the truth: taken.
    expect(learned.learnChain(THIRD, [{ e: 'T2', parent: UNTAGGED, fork: 0 }])).toBeUndefined();
    expect(learned.parentOf(THIRD, 'T2')).toEqual({ parent: UNTAGGED, fork: 0 });
  });

  it("a trusted relay's frame teaches a third replica's records (they are stored: `learned` called)", () => {
    const learned = new Epochs();
    let stores = 0;
    carry(forged(), state, learned, { mine: [], theirs: [], others: true, learned: () => stores++ });
    expect(learned.parentOf(THIRD, 'T2')).toEqual({ parent: 'T1', fork: 3 });
    expect(stores).toBeGreaterThan(0);
  });

  it("the sender's own records are taken from it; one conflicting with a known record refuses the frame with the reason", () => {
    const sent = new Epochs();
    sent.learn(ME, [
      ['E1', 1],
      ['E2', 6],
    ]);
    const mine = stateOf([version(ME, 7, 'E2')]);
    const fresh = new Epochs();
    carry(sent, mine, fresh, { mine: [], theirs: [] });
    expect(fresh.parentOf(ME, 'E2')).toEqual({ parent: 'E1', fork: 6 });

    const known = new Epochs();
    known.learn(ME, [
      ['E1', 1],
      ['E2', 5],
    ]);
    expect(() => carry(sent, mine, known, { mine: [], theirs: [] })).toThrow(ProtocolError);
    expect(() => carry(sent, mine, known, { mine: [], theirs: [] })).toThrow(/epoch E2 of sender-id-aaaaaaaaaaaa is known under 'E1' at 5: a record under 'E1' at 6 is refused/);
    expect(known.parentOf(ME, 'E2')).toEqual({ parent: 'E1', fork: 5 });
  });

  it(`a frame whose epoch table carries more than ${MAX_FRAME_RECORDS} records is refused, nothing of it learned`, () => {
    // 65 replicas, each version naming an epoch 64 records deep: 4 160 records in one frame's table.
    const sent = new Epochs();
    const vs: StoredVersion[] = [];
    for (let i = 0; i < 65; i++) {
      const r = `writer-${String(i).padStart(3, '0')}-dddddddddd`;
      sent.learn(r, Array.from({ length: 64 }, (_, j) => [`w${j}`, j + 1] as const));
      vs.push(version(r, 100, 'w63'));
    }
    const learned = new Epochs();
    expect(() => carry(sent, stateOf(vs), learned, { mine: [], theirs: [], others: true })).toThrow(/more than 4096 records/);
    expect(learned.knows(vs[0]!.r, 'w63')).toBe(false);
  });
});
