// Every tab a full citizen, in one Node process: replica instances sharing one IndexedDB database
// (fake-indexeddb; Node's BroadcastChannel carries the commit hints) and a network role over a test double of
// the SharedInstances port (test/support/tab-group.ts). All instances call connect(); exactly one connection
// reaches the relay; every instance sees the status, its writes acknowledged, and presence; the role moves
// when the leader closes or stalls. The same in real Chromium: test/browser/tabs.test.ts.
import 'fake-indexeddb/auto';
import { IDBFactory } from 'fake-indexeddb';
import { afterEach, describe, expect, it } from 'vitest';
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { memoryRelay, tabGroup, withShared, type Member } from '../support/tab-group.js';
import { delayed, until } from './support.js';

// Fast enough for a takeover within a test, slow enough that a busy event loop on a loaded CI machine does not
// look like a dead leader (a takeover needs a silence of 3 beats and then an unanswered probe).
const FAST = { beatMs: 150, probeTimeoutMs: 150 };
const open: Replica[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((r) => r.close().catch(() => {})));
});

async function setup(tabs: number) {
  const factory = new IDBFactory();
  const name = `tabs-${Math.random().toString(36).slice(2)}`;
  const group = tabGroup();
  const relay = await openReplica({ storage: memoryStorage() });
  open.push(relay);
  const server = memoryRelay(relay);
  const members: Member[] = [];
  const replicas: Replica[] = [];
  for (let i = 0; i < tabs; i++) {
    const member = group.member(`tab${i}`);
    const r = await openReplica({ storage: withShared(indexedDBStorage(name, { indexedDB: factory }), member), sharedNetwork: { ...FAST, timers: member.timers } });
    members.push(member);
    replicas.push(r);
    open.push(r);
  }
  return { group, relay, server, members, replicas, factory, name };
}

/** Two tabs with space 's', both connected and synced over the one connection the leader holds (`latencyMs` each way). */
async function syncedTabs(latencyMs = 0) {
  const set = await setup(2);
  const [a, b] = set.replicas as [Replica, Replica];
  a.space('s');
  b.space('s');
  const transport = () => (latencyMs > 0 ? delayed(set.server.transport(), latencyMs) : set.server.transport());
  a.connect(transport());
  b.connect(transport());
  await until(() => a.status === 'synced' && b.status === 'synced', 'both tabs synced');
  expect(set.server.open).toBe(1);
  const leaderIdx = set.group.holder === 'tab0' ? 0 : 1;
  return { ...set, a, b, leaderIdx, leader: set.replicas[leaderIdx]!, follower: set.replicas[1 - leaderIdx]! };
}

const names = (r: Replica, space: string) =>
  r
    .space(space)
    .presence.list()
    .map((m) => (m.meta as { name: string }).name)
    .sort()
    .join();

describe('tabs sharing one replica: one connection, every tab a full citizen', () => {
  it('both tabs connect, one connection reaches the relay, both reach synced, and a write in the other tab reports synced there', async () => {
    const { server, relay, a, b, leader, follower } = await syncedTabs();
    expect(server.opened).toBe(1);
    const w = await follower.space('s').put('from-follower', 1);
    expect(w.durability).toBe('local');
    await w.synced;
    expect(w.durability).toBe('synced');
    expect((await relay.space('s').get('from-follower'))?.value).toBe(1);
    await until(() => a.pending === 0 && b.pending === 0 && a.status === 'synced' && b.status === 'synced', 'nothing pending, synced');
    await follower.whenSynced();
    await leader.whenSynced();
    // A change from elsewhere reaches both tabs (the follower through the log).
    await relay.space('s').put('from-relay', 2);
    await until(async () => (await follower.space('s').get('from-relay'))?.value === 2, 'the follower sees the remote change');
    expect(server.open).toBe(1);
  });

  it('each tab is its own presence member; a remote device sees both tabs and both tabs see it', async () => {
    const { server, relay, replicas } = await setup(2);
    const [a, b] = replicas as [Replica, Replica];
    const remote = await openReplica({ storage: memoryStorage() });
    open.push(remote);
    remote.space('room');
    remote.connect(server.transport());
    a.connect(server.transport());
    b.connect(server.transport());
    a.space('room').presence.set({ name: 'tab a' });
    b.space('room').presence.set({ name: 'tab b' });
    remote.space('room').presence.set({ name: 'remote' });
    const all = 'remote,tab a,tab b';
    await until(() => names(a, 'room') === all && names(b, 'room') === all && names(remote, 'room') === all, 'everyone sees everyone');
    expect(server.open).toBe(2); // the remote device, and one for both tabs
    void relay;
    // A tab that closes leaves everyone's view.
    await a.close();
    await until(() => names(b, 'room') === 'remote,tab b' && names(remote, 'room') === 'remote,tab b', 'tab a left');
  });

  it('when the leader tab closes the other tab takes the role, reconnects and reaches synced; its writes sync', async () => {
    const { server, relay, leader, follower } = await syncedTabs();
    await leader.close();
    await until(() => follower.status === 'synced' && server.open === 1, 'the follower leads and is synced');
    expect(server.opened).toBe(2);
    await (await follower.space('s').put('after', 1)).synced;
    expect((await relay.space('s').get('after'))?.value).toBe(1);
  });

  it('a stalled leader is replaced: the other tab takes the role over, and the stalled one steps down when it runs again', async () => {
    const { server, relay, replicas, members, group, leaderIdx, follower } = await syncedTabs();
    members[leaderIdx]!.stall(true);
    await until(() => group.holder === `tab${1 - leaderIdx}`, 'the follower took the role over', 5000);
    await until(() => follower.status === 'synced', 'the new leader is synced');
    await (await follower.space('s').put('while-stalled', 1)).synced;
    expect((await relay.space('s').get('while-stalled'))?.value).toBe(1);
    members[leaderIdx]!.stall(false);
    await until(() => server.open === 1, 'the old leader closed its connection');
    await until(() => replicas[leaderIdx]!.status === 'synced', 'the old leader shows the new leader’s status');
  });

  it('replication reports the leader hears reach the other tab: w.replicated(n) resolves there', async () => {
    const { leader, follower } = await syncedTabs();
    const w = await follower.space('s').put('k', 1);
    await w.synced;
    let replicated = false;
    void w.replicated(2).then(() => (replicated = true));
    // A relay of a cluster reports to the leader's session that two relays hold our log in 's' up to w.seq.
    leader.core.acks.replicated('s', w.seq, 2);
    await until(() => replicated, 'the follower heard the report');
    expect(w.durability).toBe('replicated');
  });

  it('a tab without links shows offline but its writes report synced once the leading tab stored them at the relay', async () => {
    const { server, replicas } = await setup(2);
    const [a, b] = replicas as [Replica, Replica];
    a.space('s');
    a.connect(server.transport());
    await until(() => a.status === 'synced', 'a synced');
    const w = await b.space('only-b').put('k', 1); // a space the leading tab never opened
    expect(b.status).toBe('offline');
    await w.synced;
    await until(() => b.pending === 0, 'b counts nothing pending');
    expect(b.status).toBe('offline');
  });

  it('a write whose commit hint was lost (its tab closed at once) is still streamed by the leader', async () => {
    const { server, relay, replicas } = await setup(2);
    const [a, b] = replicas as [Replica, Replica];
    a.space('s');
    a.connect(server.transport());
    await until(() => a.status === 'synced', 'a synced');
    // b's storage announces nothing: every hint it would post is lost.
    const hints = (b as unknown as { core: { storage: { hints: { post(s: string[]): void } } } }).core.storage.hints;
    hints.post = () => {};
    const w = await b.space('s').put('unannounced', 1);
    await until(async () => (await relay.space('s').get('unannounced'))?.value === 1, 'the relay got it', 5000);
    await w.synced;
  });

  it('a lost commit hint in one space does not let a later change of that space skip it on the live path', async () => {
    // Seqs are one sequence for all spaces: b's unannounced commit in 's' sits between a's changes, and a's next
    // change in 's' must not go from its event with a cursor past it (hub.ts: a gap starts a new run of seqs).
    const { server, relay, replicas } = await setup(2);
    const [a, b] = replicas as [Replica, Replica];
    for (const r of [a, relay]) {
      r.space('s');
      r.space('t');
    }
    a.connect(server.transport());
    await until(() => a.status === 'synced', 'a synced');
    await (await a.space('s').put('before', 1)).synced;
    const hints = (b as unknown as { core: { storage: { hints: { post(s: string[]): void } } } }).core.storage.hints;
    hints.post = () => {};
    await b.space('s').put('unannounced', 1);
    await (await a.space('t').put('other space', 1)).synced;
    await (await a.space('s').put('after', 1)).synced;
    await until(async () => (await relay.space('s').get('after'))?.value === 1, 'the relay got a’s later write');
    await until(async () => (await relay.space('s').get('unannounced'))?.value === 1, 'the relay got b’s unannounced write', 5000);
  });

  it('acknowledgements lost on the way to another tab are repaired by the leader’s next beat', async () => {
    const { replicas, members, leaderIdx, follower } = await syncedTabs();
    members[leaderIdx]!.dropPosts(true);
    const w = await follower.space('s').put('k', 1);
    // The leader streams it and hears the relay's acknowledgement, but every message to the follower is lost.
    await until(() => replicas[leaderIdx]!.pending === 0, 'the leader saw the acknowledgement');
    expect(w.durability).toBe('local');
    members[leaderIdx]!.dropPosts(false);
    await w.synced;
    await until(() => follower.pending === 0 && follower.status === 'synced', 'repaired');
  });

  it('a document typed in the follower: its saves resolve w.synced while the typing goes on', async () => {
    // Each acknowledgement the leader passes on sits below the key's newest record: the follower's first save waited
    // as long as the saves went on (175 saves over 2 s on 312cc7d). The leader tells it which of its keys an
    // acknowledged frame carried (lib/sync/tab-waits.ts); a second waiter made later is answered too.
    const { relay, follower } = await syncedTabs(20);
    const first = await follower.space('s').put('doc', 'v0');
    let settled = 0;
    void first.synced.then(() => settled++);
    const end = Date.now() + 3000;
    let i = 0;
    while (Date.now() < end && settled < 2) {
      const w = await follower.space('s').put('doc', `v${++i}`);
      if (i === 40) void w.synced.then(() => settled++);
      await new Promise((r) => setTimeout(r, 10));
    }
    const held = await relay.space('s').get('doc');
    expect(held?.value).not.toBe('v0');
    expect(settled, `pending after ${i} saves; the relay holds ${String(held?.value)}`).toBe(2);
  });

  it('a follower never shows synced while it counts a write the leader has not acknowledged', async () => {
    const { members, leaderIdx, follower } = await syncedTabs();
    // The follower last heard 'synced'; nothing the leader says reaches it any more.
    members[leaderIdx]!.dropPosts(true);
    const statuses: string[] = [];
    follower.on('status', (s) => statuses.push(s));
    await follower.space('s').put('k', 1);
    expect(follower.pending).toBe(1);
    expect(follower.status).toBe('syncing');
    members[leaderIdx]!.dropPosts(false);
    await follower.whenSynced();
    expect(statuses).toEqual(['syncing', 'synced']);
  });
});
