// A hello at protocol 11 teaches its sender's tagged chain (epoch-chain.ts helloRecords): the first epoch whose dots
// name it takes a root label (epochs.ts ROOT_LABEL), so a receiver derives the records from that entry of the hello's
// history on, exactly as the sender's registry holds them, and no EPOCHS frame carries them — between two peers that
// both dialed too, whose hellos cannot say what the other holds (S1's setup: the writer's one-record chain went in an
// EPOCHS frame every session). What could break it is attacked: a receiver holding another record for the epoch, a
// writer restored from an old copy, tabs sharing the storage, a hostile hello; and a default replica's labels.
import { afterEach, describe, expect, it } from 'vitest';
import { Epochs, UNTAGGED, type EpochRecord } from '../../lib/epoch-points.js';
import { isRootLabel, MAX_SENT_EPOCHS, ROOT_LABEL, type EpochEntry } from '../../lib/epochs.js';
import { IDENTITY_META } from '../../lib/identity.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { helloRecords } from '../../lib/sync/epoch-chain.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { encodeMessage, MsgType, PROTOCOL_VERSIONS, type Hello } from '../../lib/sync/messages.js';
import { VirtualClock } from '../sim/clock.js';
import { journaledStorage } from '../sim/backup.js';
import { metAt11, metOnlyEarlier } from '../support/epoch-peer.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { closeLinks as closeAll, dialingPair, epochFrames, linkLog, recorded, type LinkLog } from '../support/link-log.js';
import { SimDisk } from '../support/sim-disk.js';
import { dump, synced, until } from './support.js';

const WITH_11 = [...PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS), EPOCH_DOTS];
const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

/** A replica speaking 11 on `storage` (`met`: the storage met a peer at 11 before, so this open tags). */
async function replica(storage: StorageAdapter = memoryStorage(), met = true): Promise<Replica> {
  const r = await openReplica({ storage: met ? await metAt11(storage) : storage, speaks: WITH_11 });
  open.push(r);
  return r;
}

async function reopen(r: Replica, storage: StorageAdapter): Promise<Replica> {
  await r.close();
  open.splice(open.indexOf(r), 1);
  return replica(storage, false);
}

const pair = (a: Replica, b: Replica) => dialingPair(a, b, links);
const closeLinks = () => closeAll(links);
const chainOf = (reg: Replica, of: Replica): EpochRecord[] => reg.core.epochs.chainOf(of.replicaId, of.core.epoch);
const siblings = async (r: Replica, key: string) => (await r.space('s').get(key))?.siblings;

describe('a hello at 11 teaches its sender’s tagged chain', () => {
  it('two peers that both dial: no EPOCHS frame, at the first session or again, and the receiver places the writer’s dots', async () => {
    const sa = memoryStorage();
    let a = await replica(sa, false); // fresh at 11: untagged, its storage met no peer at 11 yet
    const b = await replica(memoryStorage(), false);
    await a.space('s').put('k', 'untagged'); // a:1, no epoch
    b.space('s');
    pair(a, b);
    await synced(a, b);
    await until(async () => (await siblings(b, 'k'))?.[0] === 'untagged', 'b has k');
    await closeLinks();
    // The session met 11: a's next open tags, its epoch forking from the untagged root at 1.
    a = await reopen(a, sa);
    const tagged = a.core.epoch;
    expect(tagged).toHaveLength(ROOT_LABEL);
    expect(a.core.epochs.parentOf(a.replicaId, tagged)).toEqual({ parent: UNTAGGED, fork: 1 });
    for (const round of [1, 2, 3]) {
      // Its context point (a, tagged, n) covers the untagged a:1 only through that record: without it b would keep both.
      await a.space('s').put('k', `tagged ${round}`);
      const { atA } = pair(a, b);
      await synced(a, b);
      await until(async () => (await siblings(b, 'k'))?.includes(`tagged ${round}`) === true, `b has round ${round}`);
      expect(await siblings(b, 'k'), `round ${round}: a's write superseded what it saw`).toEqual([`tagged ${round}`]);
      expect(epochFrames(atA.out), `round ${round}: no chain frame from a`).toEqual([]);
      expect(chainOf(b, a)).toEqual(chainOf(a, a));
      await closeLinks();
    }
    expect(await dump(b, 's')).toEqual(await dump(a, 's'));
  });

  it('a fresh storage tagging from its first meeting (its first epoch a root label): the peer learned that record from its hello', async () => {
    const a = await replica(memoryStorage(), false);
    const b = await replica(memoryStorage(), false);
    expect(a.core.epoch, 'a fresh id’s first epoch at 11').toHaveLength(ROOT_LABEL);
    b.space('s');
    const { atA } = pair(a, b);
    await synced(a, b);
    await until(async () => (await a.core.storage.getMeta<{ tagged?: string }>(IDENTITY_META))?.tagged === a.core.epoch, 'a tags');
    await a.space('s').put('k', 1);
    await a.space('s').put('k', 2);
    await until(async () => (await siblings(b, 'k'))?.includes(2) === true, 'b has k');
    expect((await a.core.storage.get('s', 'k'))!.vs[0]!.ep, 'a tags in its first epoch').toBe(a.core.epoch);
    expect(await siblings(b, 'k')).toEqual([2]);
    expect(epochFrames(atA.out)).toEqual([]);
    expect(chainOf(b, a)).toEqual([{ e: a.core.epoch, parent: UNTAGGED, fork: 0 }]);
  });

  it('a receiver holding another record of that epoch refuses the hello, says why, and keeps its record', async () => {
    const a = await replica();
    const b = await replica();
    b.core.epochs.add(a.replicaId, a.core.epoch, 'Zz', 3);
    await a.space('s').put('k', 1);
    const { atA } = pair(a, b);
    await until(() => atA.closes.length > 0, 'the refusal');
    expect(atA.closes[0]).toMatch(new RegExp(`^4400 epoch ${a.core.epoch} of ${a.replicaId} is known under 'Zz' at 3: a record under '' at 0 is refused`));
    expect(b.core.epochs.parentOf(a.replicaId, a.core.epoch)).toEqual({ parent: 'Zz', fork: 3 });
    expect(await b.space('s').get('k')).toBeUndefined();
  });

  it('a writer restored from an old copy: its restored epoch’s record comes with its hello and agrees with its registry; both branches’ writes kept', async () => {
    const journal = journaledStorage();
    let a = await replica(journal);
    const b = await replica();
    await a.space('s').put('k', 'before');
    b.space('s');
    pair(a, b);
    await synced(a, b);
    await until(async () => (await siblings(b, 'k'))?.[0] === 'before', 'b has k');
    const backup = journal.mark;
    await a.space('s').put('k', 'lost'); // reaches b, then a's disk goes back to the copy
    await until(async () => (await siblings(b, 'k'))?.[0] === 'lost', 'b has the lost write');
    await closeLinks();
    await a.close();
    open.splice(open.indexOf(a), 1);
    const copy = await journal.restore(backup);
    a = await replica(copy, false);
    const restoredEpoch = a.core.epoch;
    const lostId = a.replicaId;
    expect(restoredEpoch, 'a later tagged epoch: no root label').toHaveLength(8);
    await a.space('s').put('k', 'after'); // the counter the lost write took, in another epoch
    const restoredChain = chainOf(a, a);
    const { atA } = pair(a, b);
    await until(async () => (await siblings(b, 'k'))?.includes('after') === true, 'b has the restored write');
    // b placed the restored epoch as a's registry does (from the hello), so 'after' superseded 'before' and not 'lost'.
    expect(b.core.epochs.chainOf(lostId, restoredEpoch)).toEqual(restoredChain);
    expect(((await siblings(b, 'k')) as string[]).sort()).toEqual(['after', 'lost']);
    // b's hello told a it lost writes: a told its chain (already held: no conflict), re-identified, and syncs on.
    expect(epochFrames(atA.out).flat().every((x) => restoredChain.some((y) => y.e === x.e && y.parent === x.parent && y.fork === x.fork))).toBe(true);
    await until(() => a.replicaId !== lostId, 'a re-identified');
    expect(a.core.epoch, 'the new id’s first epoch tags').toHaveLength(ROOT_LABEL);
    await closeLinks();
    const again = pair(a, b);
    await synced(a, b);
    await until(async () => JSON.stringify(await dump(a, 's')) === JSON.stringify(await dump(b, 's')), 'a and b agree');
    expect(((await siblings(a, 'k')) as string[]).sort()).toEqual(['after', 'lost']);
    expect(epochFrames(again.atA.out), 'the new id’s chain came with its hello').toEqual([]);
    expect(chainOf(b, a)).toEqual(chainOf(a, a));
  });

  it('tabs sharing the storage announce one history: a peer learns the chain from either, with no EPOCHS frame', async () => {
    const disk = new SimDisk({ timers: new VirtualClock() });
    const t1 = await replica(disk.instance());
    const t2 = await replica(disk.instance(), false);
    expect(t2.core.epoch).toBe(t1.core.epoch);
    const b = await replica();
    b.space('s');
    await t1.space('s').put('k', 't1');
    await t2.space('s').put('k', 't2'); // reads t1's commit: supersedes it
    const first = pair(t2, b);
    await until(async () => (await siblings(b, 'k'))?.[0] === 't2', 'b has k from t2');
    await closeLinks();
    await t1.space('s').put('k', 't1 again');
    const second = pair(t1, b);
    await until(async () => (await siblings(b, 'k'))?.[0] === 't1 again', 'b has k from t1');
    expect(await siblings(b, 'k')).toEqual(['t1 again']);
    expect([...epochFrames(first.atA.out), ...epochFrames(second.atA.out)]).toEqual([]);
    expect(chainOf(b, t1)).toEqual([{ e: t1.core.epoch, parent: UNTAGGED, fork: 0 }]);
  });
});

describe('a refused chain frame', () => {
  it('closes the session before the frames queued behind it: the tagged write it preceded is not joined', async () => {
    // a's first tagged epoch has left its hello's window: its chain goes in an EPOCHS frame, right before its write.
    const storage = await metAt11(memoryStorage());
    for (let i = 0; i <= MAX_SENT_EPOCHS; i++) await (await openReplica({ storage, speaks: WITH_11 })).close();
    const a = await replica(storage);
    expect(helloRecords(a.core.history.slice(-MAX_SENT_EPOCHS))).toEqual([]);
    const b = await replica();
    b.core.epochs.add(a.replicaId, a.core.epoch, 'Zz', 3);
    await a.space('s').put('k', 1);
    const { atA } = pair(a, b);
    await until(() => atA.closes.length > 0, 'the refusal');
    expect(atA.closes[0]).toMatch(new RegExp(`^4400 epoch ${a.core.epoch} of ${a.replicaId} is known under 'Zz' at 3`));
    expect(epochFrames(atA.out)).toHaveLength(1);
    expect(atA.out.some((f) => f[0] === MsgType.Changes || f[0] === MsgType.Live), 'a sent its write behind the chain').toBe(true);
    await new Promise((r) => setTimeout(r, 50));
    expect(await b.space('s').get('k'), 'nothing of the refused session joined').toBeUndefined();
    expect(b.core.epochs.parentOf(a.replicaId, a.core.epoch)).toEqual({ parent: 'Zz', fork: 3 });
  });
});

describe('what a hello may teach', () => {
  /** Sends `hello` to `b` from a hand-driven end of a pair; resolves with how b closed, if it did. */
  async function helloTo(b: Replica, hello: Hello): Promise<LinkLog> {
    const [ta, tb] = pairTransports();
    const atB = linkLog();
    links.push(b.connect(recorded(tb, atB), { antiEntropyInterval: 0 }));
    const conn = await ta.open({ onMessage: () => {}, onClose: () => {} });
    conn.send(encodeMessage(hello));
    return atB;
  }
  const hello = (replicaId: string, history: EpochEntry[]): Hello => ({
    type: MsgType.Hello,
    versions: WITH_11,
    replicaId,
    epoch: history.at(-1)![0],
    top: history.at(-1)![1],
    token: '',
    expect: '',
    history,
    spaces: [],
  });

  it('a hostile hello naming a known replica’s epoch under another record is refused and teaches nothing', async () => {
    const a = await replica();
    const b = await replica();
    pair(a, b);
    await synced(a, b);
    await closeLinks();
    const t = a.core.epoch;
    expect(b.core.epochs.parentOf(a.replicaId, t)).toEqual({ parent: UNTAGGED, fork: 0 });
    // The same id (a dialer's hello proves none), the epoch at another fork point, and a new epoch after it.
    const atB = await helloTo(b, hello(a.replicaId, [['Xx000000', 0], [t, 5], ['Yy111111', 9]]));
    await until(() => atB.closes.length > 0, 'the refusal');
    expect(atB.closes[0]).toMatch(new RegExp(`^4400 epoch ${t} of ${a.replicaId} is known under '' at 0: a record under '' at 5 is refused`));
    expect(b.core.epochs.parentOf(a.replicaId, t)).toEqual({ parent: UNTAGGED, fork: 0 });
    expect(b.core.epochs.knows(a.replicaId, 'Yy111111'), 'all or none').toBe(false);
    expect(b.core.epochs.knows(a.replicaId, 'Xx000000')).toBe(false);
  });

  it('teaches only its sender’s records, from its last root label on; a hello of 10 teaches what it did', async () => {
    const b = await replica();
    const history: EpochEntry[] = [['Aaaaaaaa', 0], ['Bbbbbbb', 2], ['Cccccccc', 4], ['Ddddddd', 6], ['Eeeeeeee', 8]];
    const atB = await helloTo(b, hello('hostile-peer-0001', history));
    await until(() => b.core.epochs.knows('hostile-peer-0001', 'Eeeeeeee'), 'learned');
    expect(b.core.epochs.chainOf('hostile-peer-0001', 'Eeeeeeee')).toEqual([
      { e: 'Ddddddd', parent: UNTAGGED, fork: 6 },
      { e: 'Eeeeeeee', parent: 'Ddddddd', fork: 8 },
    ]);
    expect(b.core.epochs.knows('hostile-peer-0001', 'Cccccccc')).toBe(false);
    expect(atB.closes).toEqual([]);
    // A hello of 10 is learned in memory as before (each entry under the one before it, the oldest left out), but for
    // its root labels, which fork from the untagged root there too: what a later hello at 11 teaches agrees with it.
    const old = { ...hello('earlier-peer-0001', history), versions: WITH_11.filter((v) => v < EPOCH_DOTS) };
    await helloTo(b, old);
    await until(() => b.core.epochs.knows('earlier-peer-0001', 'Eeeeeeee'), 'learned at 10');
    expect(history.map(([e]) => b.core.epochs.parentOf('earlier-peer-0001', e))).toEqual([
      undefined,
      { parent: UNTAGGED, fork: 2 },
      { parent: 'Bbbbbbb', fork: 4 },
      { parent: UNTAGGED, fork: 6 },
      { parent: 'Ddddddd', fork: 8 },
    ]);
    expect(b.core.epochs.learnChain('earlier-peer-0001', helloRecords(history))).toBeUndefined();
  });
});

describe('root labels', () => {
  it('mark exactly the epochs forking from the untagged root; a replica speaking 10 keeps its labels as before', async () => {
    const s = memoryStorage();
    const d = await openReplica({ storage: s, speaks: SPEAKS_10 });
    expect(d.core.epoch).toHaveLength(8);
    await d.close();
    const d2 = await openReplica({ storage: await metAt11(s), speaks: SPEAKS_10 }); // met 11, but speaks 10: no tagging, no root label
    expect(d2.core.epoch).toHaveLength(8);
    expect(d2.core.takesEpochs).toBe(false);
    await d2.close();
    // At 11: a fresh storage's first epoch, then the first tagging epoch; later epochs are plain again.
    const s11 = memoryStorage();
    let r = await replica(s11, false);
    expect(r.core.epoch).toHaveLength(ROOT_LABEL);
    await r.close();
    open.splice(open.indexOf(r), 1);
    // Its second open would tag (identity.ts AT11_META); a storage that met only earlier releases does not.
    r = await replica(await metOnlyEarlier(s11), false);
    expect(r.core.epoch, 'not tagging yet (its storage met only earlier peers)').toHaveLength(8);
    await r.close();
    open.splice(open.indexOf(r), 1);
    r = await replica(s11);
    const tagged = (await r.core.storage.getMeta<{ tagged?: string }>(IDENTITY_META))!.tagged;
    expect(tagged).toBe(r.core.epoch);
    expect(tagged).toHaveLength(ROOT_LABEL);
    r = await reopen(r, s11);
    expect(r.core.epoch).toHaveLength(8);
    const history = r.core.history;
    expect(history.map(([e]) => isRootLabel(e))).toEqual([true, false, true, false]);
    // Each root label's record forks from the untagged root; the rest from the epoch before them.
    expect(history.map(([e]) => r.core.epochs.parentOf(r.replicaId, e)?.parent)).toEqual([UNTAGGED, history[0]![0], UNTAGGED, history[2]![0]]);
    expect(helloRecords(history.slice(-MAX_SENT_EPOCHS))).toEqual(r.core.epochs.chainOf(r.replicaId, r.core.epoch));
  });

  it('Epochs.learn gives a root label the untagged parent wherever it sits, also in a hello’s last few epochs', () => {
    const reg = new Epochs();
    const history: EpochEntry[] = [['P1aaaaaa', 0], ['P2bbbbbb', 3], ['Tcccccc', 5], ['T2dddddd', 9]];
    expect(reg.learn('r', history, false)).toBeUndefined();
    expect(reg.knows('r', 'P1aaaaaa'), 'the oldest entry’s parent is not told').toBe(false);
    expect(reg.parentOf('r', 'P2bbbbbb')).toEqual({ parent: 'P1aaaaaa', fork: 3 });
    expect(reg.parentOf('r', 'Tcccccc')).toEqual({ parent: UNTAGGED, fork: 5 });
    expect(reg.parentOf('r', 'T2dddddd')).toEqual({ parent: 'Tcccccc', fork: 9 });
    // What a hello teaches is a part of it, the same records.
    expect(helloRecords(history)).toEqual(reg.chainOf('r', 'T2dddddd'));
    expect(helloRecords(history.slice(0, 2))).toEqual([]);
  });
});
