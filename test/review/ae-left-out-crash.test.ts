/**
 * A key an anti-entropy run left out, then a crash (simulator seed withheld 1736500179, at 10, at 11 and beside earlier
 * releases: g, a protocol-5 writer, said `replica.pending` 0 after heal while no other node held any write of its k0).
 *
 * The writer's k was durable ('old'); a second write of k was applied, not durable yet, when the writer first met a peer.
 * The run's turn read k's newest record, found it newer than the durable log, and left k to the log stream (repair.ts
 * `durable`; a key whose record was not durable when the tree was built is left out of the tree altogether, hub.ts
 * `unsettled`) — yet the run's top, the writer's durable log then, reached past k's 'old' record, and the peer's end of
 * the run took that top as its cursor into the writer's log. The writer crashed before the second write was durable:
 * it came back with k 'old' at a seq below the peer's cursor, the next session resumed from the cursor (no frame
 * carries k again), and the resumed cursor counted k held (acks.ts): pending 0, a `whenSynced` resolved, while the peer
 * held nothing of k and, with no periodic run, never would.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { durableWaits, until } from '../sync/support.js';
import { volatileStorage, type VolatileStorage } from '../support/volatile-storage.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

const open: Replica[] = [];
const links: Link[] = [];
const disks: VolatileStorage[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const d of disks.splice(0)) (d.autoFlush = true), d.flush(); // a close waits for what is committed
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

function connect(a: Replica, b: Replica): void {
  const [ta, tb] = pairTransports();
  links.push(a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 }));
}

function disk(): VolatileStorage {
  const d = volatileStorage();
  disks.push(d);
  return d;
}

async function opened(storage = memoryStorage()): Promise<Replica> {
  const r = await openReplica({ storage, speaks: SPEAKS_10 });
  r.space('s');
  open.push(r);
  return r;
}

/** Links `a` and `b` until `done`, then closes the links. */
async function meet(a: Replica, b: Replica, done: () => Promise<boolean>, what: string): Promise<void> {
  connect(a, b);
  await until(done, what);
  for (const l of links.splice(0)) l.close();
}

const has = (r: Replica, key: string) => async () => (await r.space('s').get(key)) !== undefined;

/**
 * The writer (k 'old' and o, durable) first meets a peer holding nothing, which a crash then takes everything from but its
 * id: the writer keeps its fresh cursor into the peer's log, the peer none into the writer's (as relay h and writer g of the
 * seed). Then the peer gets `third`'s q (which the writer holds too: nothing goes from the peer to the writer in the next
 * run, whose joins would wait for the writer's fsync). Its replicaId sorts so that the writer leads the next run (`leads`)
 * or answers it.
 */
async function forgottenPeer(writer: Replica, third: Replica, leads: boolean): Promise<Replica> {
  for (;;) {
    const storage = disk();
    const p = await opened(storage as never);
    if (writer.replicaId < p.replicaId !== leads) {
      open.splice(open.indexOf(p), 1);
      await p.close();
      continue;
    }
    storage.autoFlush = false;
    await meet(writer, p, has(p, 'o'), 'the peer got the writer\'s log (not durably)');
    open.splice(open.indexOf(p), 1);
    const again = await opened(await storage.crashed());
    expect(again.replicaId).toBe(p.replicaId);
    expect(await again.space('s').get('o'), 'the crash took what the peer got').toBeUndefined();
    await meet(again, third, has(again, 'q'), 'the peer got q');
    return again;
  }
}

/**
 * Then the writer's k ('new') is applied, not durable, when it meets the peer again (a run: the peer holds no cursor into
 * its log); `inTree`: its tree was built before (a run with a fourth replica), so the run reads k's newer record as it
 * goes — else the tree is built with k left out. The writer crashes before the second write is durable, comes back with
 * what was durable, and meets the peer a third time.
 */
async function crashAfterRun(leads: boolean, inTree: boolean) {
  const third = await opened();
  await third.space('s').put('q', 1);
  const storage = disk();
  const writer = await opened(storage as never);
  await meet(writer, third, has(writer, 'q'), 'the writer got q'); // from the logs' starts: no tree built
  await writer.space('s').put('k', 'old');
  await writer.space('s').put('o', 'other');
  const peer = await forgottenPeer(writer, third, leads);
  if (inTree) {
    const fourth = await opened();
    await fourth.space('s').put('r', 1);
    await meet(writer, fourth, async () => (await has(fourth, 'k')()) && (await has(writer, 'r')()), 'the fourth replica met the writer');
  }
  storage.autoFlush = false;
  void writer.space('s').put('k', 'new').catch(() => {}); // applied at once, durable on flush() (never, here)
  await until(() => storage.unflushed > 0, 'the second write of k applied');
  // The run: it ends, or (since the fix) the writer's next turn waits for k's newer record to be durable.
  const waits = durableWaits(writer);
  connect(writer, peer);
  await until(async () => waits() || (await has(peer, 'o')()), 'the peer got o from the run, or the writer waits');
  await new Promise((r) => setTimeout(r, 100)); // the run ends meanwhile where it does
  // Power loss: the second write of k is gone; the writer opens on what was durable, and meets the peer again.
  const after = await storage.crashed();
  for (const l of links.splice(0)) l.close();
  open.splice(open.indexOf(writer), 1);
  const again = await opened(after as never);
  expect((await again.space('s').get('k'))?.value).toBe('old');
  connect(again, peer);
  await until(() => again.status === 'synced' && peer.status === 'synced', 'linked again and synced');
  return { again, peer };
}

describe('a key an anti-entropy run left out (its newest record not durable), then a crash of its writer', () => {
  for (const leads of [false, true]) {
    for (const inTree of [true, false]) {
      it(`is held by the peer once the writer counts it synced (the writer ${leads ? 'leads' : 'answers'} the run; k ${inTree ? 'in its tree' : 'left out of its tree'})`, async () => {
        const { again, peer } = await crashAfterRun(leads, inTree);
        await until(() => again.pending === 0, 'the writer counts nothing pending');
        expect((await peer.space('s').get('k'))?.value, 'pending 0 while the peer holds nothing of k').toBe('old');
        await again.whenSynced();
      });
    }
  }
});

describe('ReplicaCore.whenDurable (what the run waits on)', () => {
  it('resolves once the record is durable, and at close while it is not', async () => {
    const d = disk();
    const r = await opened(d as never);
    const applied = async (value: number) => {
      d.autoFlush = false;
      const put = r.space('s').put('k', value);
      await until(() => d.unflushed > 0, 'the write applied');
      return { put, seq: (await r.core.storage.get('s', 'k'))!.seq };
    };
    const first = await applied(1);
    let done = false;
    void r.core.whenDurable(first.seq).then(() => (done = true));
    await new Promise((res) => setTimeout(res, 20));
    expect(done, 'the record is not durable yet').toBe(false);
    d.flush();
    await first.put;
    await until(() => done, 'resolved once durable');
    await r.core.whenDurable(first.seq - 1); // durable already: at once

    const second = await applied(2);
    void second.put.catch(() => {});
    let told = false;
    void r.core.whenDurable(second.seq).then(() => (told = true));
    void r.close(); // its storage's close waits for the fsync (afterEach flushes): the waiter is told at once
    await until(() => told, 'resolved at close');
  });
});
