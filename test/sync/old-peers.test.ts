/**
 * Peers of earlier releases beside replicas speaking protocol 11 (docs/design/epochs-build.md, "Item 6 — decided"):
 * a tagged dot never travels untagged, so a replica tags only from an open after its storage met a peer speaking 11
 * (identity.ts EPOCH_PEER_META). A client speaking 11 behind a relay of an earlier release then never tags and its
 * writes sync; a client of an earlier release behind a relay at 11 gets every untagged key, is reported (on the
 * relay) for each tagged one with what to upgrade, its own writes reach the relay, and it gets the tagged keys once
 * upgraded. Simulated network and disks (test/sim/cluster.ts), virtual time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import type { KeyState } from '../../lib/dvv.js';
import { EPOCH_PEER_META, IDENTITY_META, mintAgain } from '../../lib/identity.js';
import { MsgType } from '../../lib/sync/messages.js';
import { Wire } from '../../lib/sync/wire.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { merges } from '../../lib/index.js';
import type { AddWinsSet, CounterValue } from '../../lib/merges/index.js';
import { Cluster } from '../sim/cluster.js';

const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
const WITH_11: readonly number[] = [...OLD, EPOCH_DOTS];
const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

async function cluster(speaks: Record<string, readonly number[]>, antiEntropyInterval = 0, tabs?: Record<string, number>): Promise<Cluster> {
  const names = Object.keys(speaks);
  const c = await Cluster.create({
    seed: 11,
    nodes: names,
    edges: names.filter((n) => n !== 'hub').map((n) => ['hub', n] as const),
    relay: 'hub',
    speaks,
    ...(tabs ? { tabs } : {}),
    link: { antiEntropyInterval, backoff: { base: 20, max: 500 } },
  });
  clusters.push(c);
  return c;
}

const value = async (c: Cluster, node: string, key: string) => (await c.drive(c.node(node).r.space('s').get(key)))?.value;
const stored = (c: Cluster, node: string, key: string) => c.node(node).disk.records('s').find(([k]) => k === key)?.[1];
const tagsNow = async (c: Cluster, node: string) => (await c.drive(c.node(node).storage.getMeta<{ tagged?: string }>(IDENTITY_META)))?.tagged !== undefined;
const protocolErrors = (c: Cluster, node: string) => c.node(node).errors.filter((e) => e instanceof ConcordError && e.code === 'PROTOCOL').map(String);

describe('a replica speaking 11 tags only once its storage met a peer speaking 11', () => {
  it('a client speaking 11 behind a relay of an earlier release: its writes sync, after a reopen too (it never tags)', async () => {
    const c = await cluster({ hub: OLD, a: WITH_11, b: WITH_11 });
    await c.drive(c.node('a').r.space('s').put('k', 'first'));
    await c.settle();
    expect(await value(c, 'b', 'k')).toBe('first');
    expect(await value(c, 'hub', 'k')).toBe('first');
    expect(c.node('a').r.pending).toBe(0);
    await c.restart('a');
    await c.settle();
    await c.drive(c.node('a').r.space('s').put('j', 'after a reopen'));
    await c.settle();
    expect(await value(c, 'b', 'j')).toBe('after a reopen');
    expect(c.node('a').r.pending).toBe(0);
    expect(stored(c, 'a', 'j')!.vs.every((v) => v.ep === undefined)).toBe(true);
    expect(await c.drive(c.node('a').storage.getMeta(EPOCH_PEER_META))).toBeUndefined();
    for (const n of ['hub', 'a', 'b']) expect(protocolErrors(c, n), n).toEqual([]);
  });

  it('a fresh client meeting a relay at 11 before it wrote tags at once, its other tabs too; one that wrote before tags from its next open', async () => {
    // Fresh and untouched: its first epoch's record is already what a tagging epoch's is; tagging starts at the hello.
    const c = await cluster({ hub: WITH_11, a: WITH_11 }, 0, { a: 2 });
    await c.settle();
    expect(await tagsNow(c, 'a')).toBe(true);
    expect(await c.drive(c.node('a').storage.getMeta(EPOCH_PEER_META))).toBe(1);
    // The other tab had the identity from before: the log's seq moved, so it reads the identity before it mints.
    const follower = c.node('a').tabs.find((t) => t !== c.node('a').r)!;
    await c.drive(follower.space('s').put('f', 'from the other tab'));
    await c.drive(c.node('a').r.space('s').put('k', 'from the leader'));
    await c.settle();
    const epoch = c.node('a').r.core.epoch;
    for (const key of ['f', 'k']) expect(stored(c, 'hub', key)!.vs, key).toEqual([expect.objectContaining({ ep: epoch })]);
    expect(c.node('a').r.pending).toBe(0);

    // One that wrote before it met a peer at 11 (its relay upgraded later) goes on untagged until its next open.
    const speaks: Record<string, readonly number[]> = { hub: OLD, b: WITH_11 };
    const d = await cluster(speaks);
    await d.drive(d.node('b').r.space('s').put('k', 'before'));
    await d.settle();
    speaks.hub = WITH_11;
    await d.restart('hub');
    await d.settle();
    expect(await d.drive(d.node('b').storage.getMeta(EPOCH_PEER_META))).toBe(1);
    expect(await tagsNow(d, 'b')).toBe(false);
    await d.drive(d.node('b').r.space('s').put('k', 'still untagged'));
    await d.settle();
    expect(stored(d, 'b', 'k')!.vs[0]!.ep).toBeUndefined();
    await d.restart('b');
    await d.settle();
    expect(await tagsNow(d, 'b')).toBe(true);
    await d.drive(d.node('b').r.space('s').put('k', 'tagged'));
    await d.settle();
    expect(stored(d, 'hub', 'k')!.vs).toEqual([expect.objectContaining({ ep: d.node('b').r.core.epoch, v: JSON.stringify('tagged') })]);
    expect(d.node('b').r.pending).toBe(0);
  });

  it('a client of an earlier release behind a relay at 11: untagged keys reach it, tagged ones are reported with the upgrade, its writes reach the relay; once upgraded it gets them', async () => {
    const speaks: Record<string, readonly number[]> = { hub: WITH_11, a: WITH_11, old: OLD };
    const c = await cluster(speaks, 10_000);
    // The relay's own write, at its first open: untagged (before item 6 it tagged, and the old client never got it).
    await c.drive(c.node('hub').r.space('s').put('h', 'from the relay'));
    await c.drive(c.node('a').r.space('s').put('u', 'before tagging'));
    await c.settle();
    await c.restart('a'); // a met the relay at 11: it tags from here
    await c.settle();
    expect(await tagsNow(c, 'a')).toBe(true);
    await c.drive(c.node('a').r.space('s').put('t', 'tagged'));
    await c.drive(c.node('old').r.space('s').put('o', 'from the old client'));
    await c.settle();
    expect(await value(c, 'old', 'h')).toBe('from the relay');
    expect(await value(c, 'old', 'u')).toBe('before tagging');
    expect(await value(c, 'old', 't')).toBeUndefined();
    for (const n of ['hub', 'a']) expect(await value(c, n, 'o'), n).toBe('from the old client');
    expect(c.node('old').r.pending).toBe(0);
    expect(c.node('a').r.pending).toBe(0);
    // What the relay reports names the key, the peer's release and what to do.
    const told = protocolErrors(c, 'hub');
    expect(told.length).toBeGreaterThan(0);
    expect(told[0]).toMatch(/"t"/);
    expect(told[0]).toMatch(/earlier release/);
    expect(told[0]).toMatch(/upgrade/);
    // Nothing is lost: upgraded, the client gets the key — at the link's next periodic anti-entropy round (its cursor
    // into the relay's log is past the frame that left the key out; a round at the connect runs only without a cursor).
    speaks.old = WITH_11;
    await c.restart('old');
    await c.settle();
    await c.clock.advance(20_000);
    await c.settle();
    expect(await value(c, 'old', 't')).toBe('tagged');
  });
});

/** A relay at 11, a client of an earlier release (`old`) and a client at 11 (`a`) that tags. */
async function taggingBesideOld(): Promise<Cluster> {
  const c = await cluster({ hub: WITH_11, a: WITH_11, old: OLD }, 10_000);
  await c.settle();
  await c.restart('a'); // a met the relay at 11: it tags from here
  await c.settle();
  expect(await tagsNow(c, 'a')).toBe(true);
  return c;
}

describe('a client of an earlier release whose writes a tagged state superseded on the relay', () => {
  // SIM_SPEAKS=mixed relay-hub 37 (and nine other seeds' counters and add-wins sets): the relay told the old client the
  // withheld state's context alone, which covered the client's own versions; the client dropped them and built its next
  // increment on nothing (its entry back at 1, absorbed by the withheld state's 1) and its next add on an empty set (a
  // re-minted tag, which the withheld set's context covers: the item dropped everywhere).
  it('keeps them, so its next increment and add build on its own count and tags', async () => {
    const c = await taggingBesideOld();
    const old = c.node('old').r;
    const a = c.node('a').r;
    const incr = (r: typeof a) => c.drive(r.space('s').update<CounterValue>('n', (v) => merges.counter.increment(v, r.replicaId, 1)));
    const add = (r: typeof a, item: string) => c.drive(r.space('s').update<AddWinsSet<string>>('set', (v) => merges.addWins.add(v ?? merges.addWins.empty<string>(), r.replicaId, item)));
    await incr(old);
    await add(old, 'pear');
    await c.settle();
    // a's writes build on the client's: tagged states superseding its versions, withheld from it.
    await incr(a);
    await add(a, 'apple');
    await c.settle();
    expect(stored(c, 'hub', 'n')!.vs).toEqual([expect.objectContaining({ ep: a.core.epoch })]);
    await incr(old);
    await add(old, 'fig');
    await c.settle();
    for (const n of ['hub', 'a']) {
      const counted = merges.counter.value((await value(c, n, 'n')) as CounterValue);
      const items = [...merges.addWins.values((await value(c, n, 'set')) as AddWinsSet<string>)].sort();
      expect({ counted, items }, n).toEqual({ counted: 3, items: ['apple', 'fig', 'pear'] });
    }
    expect(merges.counter.value((await value(c, 'old', 'n')) as CounterValue)).toBe(2);
    expect(old.pending).toBe(0);
  });

  // What a plain value or a delete superseded is dropped as before: kept, it came back once every state covering it was
  // lost (restore-relay 40 at mixed, a collected delete's; 84 jittered, a plain write's after a relay's restore and a
  // lost disk). Both fail where no tagged state tells its context to an earlier peer (the first cut of the rule).
  it('still drops a version a tagged plain write or a tagged delete superseded', async () => {
    const c = await taggingBesideOld();
    const old = c.node('old').r.space('s');
    const a = c.node('a').r.space('s');
    await c.drive(old.put('w', 'from the old client'));
    await c.drive(old.put('k', 'from the old client'));
    await c.settle();
    expect(await value(c, 'a', 'k')).toBe('from the old client');
    await c.drive(a.put('w', 'over it'));
    await c.drive(a.delete('k'));
    await c.settle();
    expect(stored(c, 'hub', 'w')!.vs).toEqual([expect.objectContaining({ ep: c.node('a').r.core.epoch })]);
    expect(stored(c, 'hub', 'k')!.vs).toEqual([expect.objectContaining({ ep: c.node('a').r.core.epoch, d: 1 })]);
    expect({ w: stored(c, 'old', 'w')!.vs, k: stored(c, 'old', 'k')!.vs }).toEqual({ w: [], k: [] });
  });
});

describe('an untagged replica re-issuing its writes in a state holding a tagged version of another replica', () => {
  // The case item 6 makes common (replicas speaking 11 that do not tag yet hold tagged states of their peers):
  // restore-once-like withheld 23178 at 11, h re-identified untagged and re-issued into states holding tagged versions;
  // the vector-only re-mint dropped their points and the relay refused h's every frame (4400, "a version outside its
  // causal context") for good.
  it('keeps their points, so the state still travels at 11', () => {
    const P = 'peer-id-pppppppppppp';
    const OLD_ID = 'old-id-oooooooooooooo';
    const NEW_ID = 'new-id-nnnnnnnnnnnnnn';
    const base: KeyState = { vs: [{ r: P, ep: 'E1', n: 3, t: 1, c: 0, v: '"p"' }], cc: { [P]: 3 }, pts: { [P]: [{ e: 'E1', n: 3 }] } };
    const lost = { r: OLD_ID, n: 7, t: 1, c: 0, v: '"mine"' };
    const { state, seq } = mintAgain(base, [lost], NEW_ID, 4, () => ({ ms: 2, logical: 0 }));
    expect(seq).toBe(5);
    expect(state.pts?.[P]).toEqual([{ e: 'E1', n: 3 }]);
    expect(state.vs.find((v) => v.r === NEW_ID)).toEqual({ r: NEW_ID, n: 5, t: 2, c: 0, v: '"mine"' });
    const sender = new Wire((e) => {
      throw e;
    });
    const receiver = new Wire((e) => {
      throw e;
    });
    sender.start(NEW_ID, P, 0, { mine: [], theirs: [] });
    receiver.start(P, NEW_ID, 0, { mine: [], theirs: [] });
    const frames: Uint8Array[] = [];
    sender.send({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', state]] }, 1 << 20, (f) => frames.push(f));
    const got = receiver.decode(frames[0]!, 1 << 20);
    expect(got?.type === MsgType.Changes && got.entries[0]![1].vs.map((v) => [v.r, v.n, v.ep])).toEqual([
      [NEW_ID, 5, undefined],
      [P, 3, 'E1'],
    ]);
  });
});
