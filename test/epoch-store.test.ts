// The epoch registry kept in storage (lib/epoch-store.ts) and the chain frames that fill it (lib/sync/epoch-chain.ts):
// docs/design/epochs-build.md, stage 2 item 3, "registry before judgement".
import { afterEach, describe, expect, it } from 'vitest';
import { joinWith, type KeyState, type StoredVersion } from '../lib/dvv.js';
import { Epochs, MAX_FRAME_RECORDS, UNTAGGED, type EpochRecord, type EpochRegistry } from '../lib/epoch-points.js';
import { MAX_STORED_EPOCHS } from '../lib/epochs.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../lib/index.js';
import { metAt11 } from './support/epoch-peer.js';
import type { StorageAdapter } from '../lib/storage.js';
import { MsgType, PROTOCOL_VERSIONS } from '../lib/sync/messages.js';
import { EPOCH_DOTS } from '../lib/sync/epoch-wire.js';
import type { Connection, Transport } from '../lib/transport.js';
import { place as placeOf, type Place } from './support/places.js';
import { until } from './sync/support.js';
import { SPEAKS_10 } from './support/raw-versions.js';

const open: Replica[] = [];
const links: Link[] = [];
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
  for (const c of cleanups.splice(0)) await c();
});

const place = (kind: 'memory' | 'file' | 'indexeddb'): Promise<Place> => placeOf(kind, cleanups, 'epochs');

/** Protocol 11 is not announced by default (PROTOCOL_VERSIONS): replicas of these tests speak it (ReplicaCore.speaks). */
const WITH_11 = [...PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS), EPOCH_DOTS];

/**
 * Opens a replica on `at` `times` times, writing one key each time (so every epoch starts at another counter); the last
 * stays open. Each open speaks 11, so the replica tags from its first open (its chain is its whole history) and its
 * chain goes to a peer with its first tagged dot (epoch-chain.ts); `speaks` another list: opened speaking that.
 */
async function opened(at: Place, times: number, speaks: readonly number[] = WITH_11): Promise<Replica> {
  for (let i = 0; ; i++) {
    const r = await openReplica({ storage: speaks.includes(EPOCH_DOTS) ? await metAt11(at()) : at(), speaks });
    await r.space('s').put(`k${i}`, i);
    if (i === times - 1) return (open.push(r), r);
    await r.close();
  }
}

/** What a side of a link saw: the message types it received, and how its connection closed. */
interface Seen {
  types: number[];
  closes: string[];
}

function watched(inner: Transport, seen: Seen): Transport {
  const t: Transport = Object.create(inner);
  return Object.assign(t, {
    open: (handlers: Parameters<Transport['open']>[0]) =>
      inner.open({
        onMessage: (frame) => (typeof frame !== 'string' && seen.types.push(frame[0]!), handlers.onMessage(frame)),
        onClose: (code, reason) => (seen.closes.push(`${code} ${reason}`), handlers.onClose(code, reason)),
      }) as Promise<Connection>,
  });
}

function connect(a: Replica, b: Replica): { atA: Seen; atB: Seen } {
  const [ta, tb] = pairTransports();
  const atA: Seen = { types: [], closes: [] };
  const atB: Seen = { types: [], closes: [] };
  links.push(a.connect(watched(ta, atA), { antiEntropyInterval: 0 }), b.connect(watched(tb, atB), { antiEntropyInterval: 0 }));
  return { atA, atB };
}

/** The records of `r`'s own chain, from its history (whole: fewer than 64 opens). */
const ownChain = (r: Replica): EpochRecord[] => r.core.history.map(([e, fork], i, h) => ({ e, parent: i ? h[i - 1]![0] : UNTAGGED, fork }));

/** Which of `chain` (records of `r`) `reg` holds as they are (read through parentOf alone). */
const held = (reg: EpochRegistry, r: string, chain: readonly EpochRecord[]): EpochRecord[] =>
  chain.filter((rec) => {
    const up = reg.parentOf(r, rec.e);
    return up !== undefined && up.parent === rec.parent && up.fork === rec.fork;
  });

describe('Epochs.learnChain / chainOf (the API a frame encoding calls)', () => {
  const chain: EpochRecord[] = [
    { e: 'E1', parent: UNTAGGED, fork: 0 },
    { e: 'E2', parent: 'E1', fork: 10 },
    { e: 'E3', parent: 'E2', fork: 20 },
  ];

  it('learns a chain and gives it back, oldest first; a record learned again is no conflict', () => {
    const reg = new Epochs();
    expect(reg.learnChain('a', chain)).toBeUndefined();
    expect(reg.learnChain('a', chain.slice(1))).toBeUndefined();
    expect(reg.chainOf('a', 'E3')).toEqual(chain);
    expect(reg.chainOf('a', 'E2')).toEqual(chain.slice(0, 2));
    expect(reg.chainOf('a', 'X')).toEqual([]);
    expect(reg.chainOf('b', 'E3')).toEqual([]);
  });

  it('refuses a chain with a record that conflicts with a known one, says why, and learns none of it', () => {
    const reg = new Epochs();
    reg.learnChain('a', chain.slice(0, 2));
    const forged = [{ e: 'E4', parent: 'E3', fork: 30 }, { e: 'E2', parent: 'E1', fork: 11 }];
    expect(reg.learnChain('a', forged)).toMatch(/epoch E2 of a is known under 'E1' at 10: a record under 'E1' at 11 is refused/);
    expect(reg.knows('a', 'E4'), 'nothing of a refused chain is learned').toBe(false);
    expect(reg.parentOf('a', 'E2')).toEqual({ parent: 'E1', fork: 10 });
    // Two records of one epoch in one chain that disagree: refused too.
    expect(reg.learnChain('b', [{ e: 'F1', parent: UNTAGGED, fork: 0 }, { e: 'F1', parent: UNTAGGED, fork: 1 }])).toMatch(/epoch F1 of b/);
    expect(reg.knows('b', 'F1')).toBe(false);
    // And a history (a hello) that conflicts keeps the known record and says so.
    expect(reg.learn('a', [['E1', 0], ['E2', 12]], false)).toMatch(/epoch E2 of a/);
    expect(reg.parentOf('a', 'E2')).toEqual({ parent: 'E1', fork: 10 });
  });

  it('refuses a frame past its bound instead of learning part of it', () => {
    const reg = new Epochs();
    const long = Array.from({ length: MAX_FRAME_RECORDS + 1 }, (_, i): EpochRecord => ({ e: `L${i}`, parent: i ? `L${i - 1}` : UNTAGGED, fork: i }));
    expect(reg.learnChain('a', long)).toMatch(/4097 records \(at most 4096 a frame\)/);
    expect(reg.knows('a', 'L0')).toBe(false);
  });
});

describe.each(['memory', 'file', 'indexeddb'] as const)('the registry in %s storage', (kind) => {
  it("a reopened replica keeps its peers' epochs, the chain past the hello's last few included", async () => {
    const b = await opened(await place(kind), 10); // its hello carries its last 8 epochs only
    const at = await place(kind);
    const a = await opened(at, 1);
    const chain = ownChain(b);
    expect(chain).toHaveLength(10);
    connect(a, b);
    await until(() => a.status === 'synced' && b.status === 'synced', 'linked');
    await until(async () => (await a.space('s').get('k9')) !== undefined, 'a has b’s last key');
    expect(held(a.core.epochs, b.replicaId, chain), 'learned whole while linked').toEqual(chain);
    for (const l of links.splice(0)) l.close();
    await a.close();
    open.splice(open.indexOf(a), 1);

    const again = await openReplica({ storage: at() });
    open.push(again);
    expect(held(again.core.epochs, b.replicaId, chain), 'b’s records after a reopen').toEqual(chain);
    expect(again.core.epochs.chainOf(b.replicaId, b.core.epoch)).toEqual(chain);
  });
});

describe.each(['memory', 'file'] as const)('own epochs past the stored history (%s storage)', (kind) => {
  it('a version naming an epoch more than 64 opens back is judged by its ancestry after a reopen', async () => {
    const at = await place(kind);
    const first = await opened(at, 2);
    const me = first.replicaId;
    const old = first.core.epoch; // the second open's epoch: its dots are counters 2..
    const oldTop = (await first.core.storage.getMeta<number>('seq')) ?? 0;
    await first.close();
    open.splice(0);
    const r = await opened(at, MAX_STORED_EPOCHS + 6);
    expect(r.core.history.some(([e]) => e === old), 'the identity no longer keeps the old epoch').toBe(false);
    await r.close();
    open.splice(0);
    const again = await openReplica({ storage: at() });
    open.push(again);
    const top = (await again.core.storage.getMeta<number>('seq')) ?? 0;
    // A version minted in the old epoch, and a state whose context has seen up to now in the current one.
    const written: StoredVersion = { r: me, n: oldTop, t: 1, c: 0, v: '"old"', ep: old };
    const holder: KeyState = { vs: [written], cc: { [me]: oldTop }, pts: { [me]: [{ e: old, n: oldTop }] } };
    const later: StoredVersion = { r: me, n: top + 1, t: 2, c: 0, v: '"new"', ep: again.core.epoch };
    const writer: KeyState = { vs: [later], cc: { [me]: top + 1 }, pts: { [me]: [{ e: again.core.epoch, n: top + 1 }] } };
    const joined = joinWith(again.core.epochs, holder, writer);
    expect(joined.vs.map((v) => v.v), 'the old write is covered through the chain of epochs').toEqual(['"new"']);
    expect(joined.pts).toEqual({ [me]: [{ e: again.core.epoch, n: top + 1 }] });
  });
});

describe('chain frames on the wire', () => {
  it('a conflicting record is refused, and the session closes saying so', async () => {
    const b = await opened(await place('memory'), 10);
    const a = await opened(await place('memory'), 1);
    const oldest = ownChain(b)[0]!; // not in b's hello: only its chain frame names it
    a.core.epochs.add(b.replicaId, oldest.e, 'Zz', 3);
    const { atB } = connect(a, b);
    await until(() => atB.closes.length > 0, 'the refusal');
    expect(atB.closes[0]).toMatch(new RegExp(`^4400 epoch ${oldest.e} of ${b.replicaId} is known under 'Zz' at 3: a record under '' at 0 is refused`));
    expect(a.core.epochs.parentOf(b.replicaId, oldest.e)).toEqual({ parent: 'Zz', fork: 3 });
  });

  it('a peer of an earlier release still connects and gets no chain frame; a current peer gets one', async () => {
    // a speaks 11 but tags nothing (its opens spoke 10): its states cross a link at 10.
    const a = await opened(await place('memory'), 10, SPEAKS_10);
    a.core.speaks = WITH_11;
    const o = await opened(await place('memory'), 3, SPEAKS_10);
    const withOld = connect(a, o);
    await until(() => a.status === 'synced' && o.status === 'synced', 'linked to the old peer');
    await a.space('s').put('late', 1);
    await o.space('s').put('late-o', 1);
    await until(async () => (await o.space('s').get('late')) !== undefined && (await a.space('s').get('late-o')) !== undefined, 'both ways');
    expect(withOld.atB.types.includes(MsgType.Hello)).toBe(true);
    expect(withOld.atB.types.includes(MsgType.Epochs), 'no EPOCHS to a peer of an earlier release').toBe(false);
    expect(withOld.atA.types.includes(MsgType.Epochs)).toBe(false);
    // From its hello, the old peer learned a's last epochs only, as before (the oldest's parent is not in it).
    expect(held(o.core.epochs, a.replicaId, ownChain(a))).toEqual(ownChain(a).slice(3));

    // A current peer gets the chain of a replica that tags, with its first tagged dot.
    const t = await opened(await place('memory'), 10);
    const n = await opened(await place('memory'), 1);
    const withNew = connect(t, n);
    await until(() => n.status === 'synced', 'linked to the current peer');
    await until(() => held(n.core.epochs, t.replicaId, ownChain(t)).length === 10, 't’s whole chain', 2000);
    expect(withNew.atB.types.includes(MsgType.Epochs), 'an EPOCHS frame').toBe(true);
  });
});
