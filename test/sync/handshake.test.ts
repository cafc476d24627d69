/**
 * The session's decisions as pure functions (lib/epochs.ts, lib/sync/handshake.ts, dvv.ts stripOwnDots),
 * driven by tables: what a cursor into a log with a given epoch history means, when a replica lost writes,
 * where its restore point is, and what both ends of a session decide for a space.
 */
import { describe, expect, it } from 'vitest';
import { stripOwnDots } from '../../lib/dvv.js';
import { cursorValid, epochEnd, lostWrites, restorePoint, startEpoch, MAX_STORED_EPOCHS, type EpochEntry } from '../../lib/epochs.js';
import { decideSpace, initiatesAntiEntropy, reachAfter, reachHeld, REACH_OPEN, versionRefusal } from '../../lib/sync/handshake.js';
import { PROTOCOL_VERSIONS, type SyncItem } from '../../lib/sync/messages.js';

// E1 covered seqs 1..140, E2 141..512, E3 (current) 513.. up to the durable top.
const history: EpochEntry[] = [
  ['E1', 0],
  ['E2', 140],
  ['E3', 512],
];
const TOP = 600;

describe('epochs', () => {
  it.each([
    ['E1', 140],
    ['E2', 512],
    ['E3', TOP],
    ['E9', undefined],
  ] as const)('epoch %s ends at %s', (e, end) => expect(epochEnd(history, e, TOP)).toBe(end));

  it.each([
    ['E1', 100, true],
    ['E1', 141, false], // past E1's end: the log from there on belongs to a later epoch
    ['E2', 512, true],
    ['E3', 600, true],
    ['E3', 601, false], // beyond the durable top
    ['E9', 1, false], // an epoch this log never had (a restored copy's lost one)
    ['', 0, false],
  ] as const)('cursor (%s, %i) valid: %s', (e, s, valid) => expect(cursorValid(history, TOP, e, s)).toBe(valid));

  it.each([
    [undefined, false],
    [{ e: 'E1', n: 140 }, false],
    [{ e: 'E1', n: 141 }, true], // a dot E1 delivered beyond where this copy's E1 ended
    [{ e: 'E3', n: 600 }, false],
    [{ e: 'E3', n: 601 }, true], // beyond the durable top
    [{ e: 'E7', n: 10 }, true], // delivered in an epoch this copy never had
  ] as const)('a peer that saw %j means lost writes: %s', (seen, lost) => expect(lostWrites(history, TOP, seen)).toBe(lost));

  it.each([
    ['E1', 140], // the restore point is where the epoch we last announced to that peer ended here
    ['E2', 512],
    ['E3', 512], // the current epoch, or an unknown one: the latest open
    [undefined, 512],
  ] as const)('restore point after last telling the peer %s: %i', (told, point) => expect(restorePoint(history, TOP, told)).toBe(point));

  it('keeps the newest epochs only', () => {
    let h: EpochEntry[] = [];
    for (let i = 0; i < MAX_STORED_EPOCHS + 5; i++) h = startEpoch(h, `E${i}`, i * 10);
    expect(h).toHaveLength(MAX_STORED_EPOCHS);
    expect(h[h.length - 1]).toEqual([`E${MAX_STORED_EPOCHS + 4}`, (MAX_STORED_EPOCHS + 4) * 10]);
  });
});

describe('stripOwnDots', () => {
  const state = {
    vs: [
      { r: 'a', n: 3, t: 1, c: 0, v: '"kept"' },
      { r: 'a', n: 9, t: 2, c: 0, v: '"suspect"' },
      { r: 'b', n: 4, t: 3, c: 0, v: '"other"' },
    ],
    cc: { a: 9, b: 4 },
  };

  it('removes the own dots past the point and lowers the context to it', () => {
    const { state: s, removed } = stripOwnDots(state, 'a', 5);
    expect(removed.map((v) => v.n)).toEqual([9]);
    expect(s.vs.map((v) => `${v.r}${v.n}`)).toEqual(['a3', 'b4']);
    expect(s.cc).toEqual({ a: 5, b: 4 });
  });

  it('leaves a state without suspect dots as it is', () => {
    expect(stripOwnDots(state, 'a', 9).state).toBe(state);
    expect(stripOwnDots(state, 'c', 0).state).toBe(state);
  });

  it('drops the own entry when the point is the start of the log', () => {
    const { state: s } = stripOwnDots({ vs: [{ r: 'a', n: 2, t: 1, c: 0, d: 1 }], cc: { a: 2 } }, 'a', 0);
    expect(s).toEqual({ vs: [], cc: {} });
  });
});

describe('decideSpace', () => {
  const item = (cursorEpoch: string, cursorSeq: number, top: number, keys: number): SyncItem => ({ space: 's', cursorEpoch, cursorSeq, top, keys });
  const me = { history: [['M1', 0]] as EpochEntry[], top: 50 };
  const peer = { history: [['P1', 0], ['P2', 30]] as EpochEntry[], top: 80 };

  it.each([
    // mine (my cursor into the peer's log), theirs (its cursor into mine) → stream?, from, fresh cursor, echo floor
    ['both cursors valid', item('P2', 70, 50, 5), item('M1', 40, 80, 9), { stream: true, from: 40, freshCursor: false, echoFloor: 0 }],
    ['my cursor from a lost epoch', item('PX', 70, 50, 5), item('M1', 40, 80, 9), { stream: false, freshCursor: false, echoFloor: 50 }],
    ['their cursor past my top', item('P2', 70, 50, 5), item('M1', 51, 80, 9), { stream: false, from: 0, echoFloor: 0 }],
    ['my cursor past the end of its epoch', item('P1', 31, 50, 5), item('M1', 40, 80, 9), { stream: false }],
    ['first contact, the peer empty', item('', 0, 50, 5), item('', 0, 0, 0), { stream: true, from: 0, freshCursor: true, echoFloor: 50 }],
    ['first contact, both hold keys', item('', 0, 50, 5), item('', 0, 80, 9), { stream: false }],
  ] as const)('%s', (_what, mine, theirs, expected) => {
    expect(decideSpace(mine, theirs, me, peer)).toMatchObject(expected);
    // The peer decides from the mirrored inputs: the same stream-or-repair answer.
    expect(decideSpace(theirs, mine, peer, me).stream).toBe(expected.stream);
  });

  it('streams back what the peer once sent when its log lost part of what we took from it (echoes)', () => {
    const mine = item('P2', 40, 50, 5);
    const theirs = item('M1', 40, 80, 9);
    // Our cursor (P2, 40) is valid either way; what decides is whether the peer still holds all we took from it.
    expect(decideSpace(mine, theirs, me, peer, true).echoFloor).toBe(0);
    expect(decideSpace(mine, theirs, me, peer, false)).toMatchObject({ stream: true, from: 40, echoFloor: 50 });
  });

  describe('reach: how far into the peer\'s log what we took from it may come from', () => {
    // The peer's epochs: P1 from 0, P2 from 30; P3 (its current one) from 60, top 80.
    const view = { history: [['P1', 0], ['P2', 30], ['P3', 60]] as EpochEntry[], top: 80 };
    it.each([
      ['nothing stored yet', undefined, false],
      ['in its current epoch, even a repair state', { e: 'P3', s: REACH_OPEN }, true],
      ['in an earlier epoch, within what it kept', { e: 'P2', s: 60 }, true],
      ['past the end its log now shows for that epoch (restored from a copy)', { e: 'P2', s: 61 }, false],
      ['from an epoch its history no longer has', { e: 'PX', s: 5 }, false],
      ['a repair state from an earlier epoch: no position to check', { e: 'P2', s: REACH_OPEN }, false],
    ] as const)('%s', (_what, reach, held) => {
      expect(reachHeld(reach, 'P3', view)).toBe(held);
    });

    it('moves on with log frames and repair states, and starts over in a new epoch', () => {
      expect(reachAfter(undefined, 'P1', 12)).toEqual({ e: 'P1', s: 12 });
      expect(reachAfter({ e: 'P1', s: 12 }, 'P1', 7)).toEqual({ e: 'P1', s: 12 }); // a held frame before a later one
      expect(reachAfter({ e: 'P1', s: 12 }, 'P1', 0)).toEqual({ e: 'P1', s: REACH_OPEN });
      expect(reachAfter({ e: 'P1', s: REACH_OPEN }, 'P2', 31)).toEqual({ e: 'P2', s: 31 });
    });
  });

  it('judges cursors by the epochs a hello carries, on both ends alike', () => {
    const long: EpochEntry[] = Array.from({ length: 12 }, (_, i) => [`M${i}`, i * 10] as const);
    const old = item('', 0, 0, 1);
    const viaOldEpoch = item('M1', 15, 110, 1);
    expect(decideSpace(old, viaOldEpoch, { history: long, top: 110 }, peer).outValid).toBe(false);
  });

  it('starts anti-entropy from the smaller replicaId only', () => {
    expect(initiatesAntiEntropy('a', 'b')).toBe(true);
    expect(initiatesAntiEntropy('b', 'a')).toBe(false);
  });

  it('refuses a hello without a common protocol version, with the versions named', () => {
    expect(versionRefusal([4, 5])).toBeUndefined();
    expect(versionRefusal([6])).toBeUndefined();
    expect(versionRefusal([4])).toContain(`peer speaks [4], this replica [${PROTOCOL_VERSIONS.join(', ')}]`);
  });
});
