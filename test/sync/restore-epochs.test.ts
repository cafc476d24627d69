/**
 * Storage restored from an older copy (a backup, a copied directory, a VM snapshot), for a relay and for a
 * replica. DESIGN.md: a restored relay's log gets a new epoch, so no cursor into the lost future is honoured;
 * a restored replica mints a new replicaId before its writes leave it, and re-issues under the new id any
 * write it made under the old one after the restore point. Issue 10, defects 3 and 5.
 */
import { describe, expect, it } from 'vitest';
import { merges, type AddWinsSet } from '../../lib/index.js';
import type { Cluster } from '../sim/cluster.js';
import { journaledCluster, restoreThenAdd } from './restore-support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';

const SEED = process.env.SEED !== undefined ? Number(process.env.SEED) : 5;

// The restore machinery of 10's path (restore claims, re-identification, re-issue), which stays while peers below 11 are
// admitted: a writer at 11 tags its dots and needs none of it.
const journaled = (nodes: string[], edges: Array<[string, string]>, relay?: string) => journaledCluster(SEED, nodes, edges, relay, SPEAKS_10);

const valueOn = async (c: Cluster, node: string, key: string) => (await c.node(node).r.space('s').get(key))?.siblings.slice().sort();

async function write(c: Cluster, node: string, prefix: string, n: number) {
  const ws = [];
  for (let i = 0; i < n; i++) ws.push(await c.node(node).r.space('s').put(`${prefix}${i}`, `${prefix}${i}`));
  return ws;
}

describe(`storage restored from an older copy (seed ${SEED})`, () => {
  it('(3) a relay restored from a backup honours no cursor into its lost log, and gets back what its clients hold', async () => {
    const { c, journals } = await journaled(['hub', 'a', 'b', 'c'], [['hub', 'a'], ['hub', 'b'], ['hub', 'c']], 'hub');
    await write(c, 'a', 'a', 3);
    await c.settle();
    const backup = journals.get('hub')!.mark;
    // After the backup: b's writes reach the relay and a; then b leaves for good.
    await write(c, 'b', 'b', 5);
    await c.settle();
    expect(await valueOn(c, 'a', 'b4')).toEqual(['b4']);
    await c.stop('b');
    await c.stop('a');
    await c.replaceStorage('hub', await journals.get('hub')!.restore(backup));
    // The restored relay's log grows past a's old cursor with c's writes.
    await write(c, 'c', 'c', 12);
    await c.clock.advance(2000);
    await c.start('a');
    await c.clock.advance(5000);
    for (let i = 0; i < 12; i++) expect(await valueOn(c, 'a', `c${i}`), `a has c${i}`).toEqual([`c${i}`]);
    for (let i = 0; i < 5; i++) expect(await valueOn(c, 'hub', `b${i}`), `the relay has b${i} back`).toEqual([`b${i}`]);
    await c.start('b');
    await c.settle();
    await c.close();
  });

  const restoredReplica = async () => {
    const { c, journals } = await journaled(['a', 'b'], [['a', 'b']]);
    await write(c, 'a', 'k', 10);
    await c.settle();
    const backup = journals.get('a')!.mark;
    const oldId = c.node('a').r.replicaId;
    // Writes after the backup, stored by b: lost with a's disk.
    await write(c, 'a', 'late', 5);
    await c.node('a').r.space('s').put('k3', 'after the backup');
    await c.settle();
    c.net.partition(['a']);
    await c.replaceStorage('a', await journals.get('a')!.restore(backup));
    expect(c.node('a').r.replicaId).toBe(oldId);
    return { c, oldId };
  };

  it('(5) a restored replica that writes past its lost writes before reconnecting loses nothing and reuses no dot', async () => {
    const { c } = await restoredReplica();
    const after = [];
    for (let i = 0; i < 8; i++) after.push(await c.node('a').r.space('s').put(`k${i}`, `offline after restore ${i}`));
    c.net.heal();
    await c.settle();
    for (const w of after) await w.synced;
    for (let i = 0; i < 8; i++) {
      const a = await valueOn(c, 'a', `k${i}`);
      expect(a).toContain(`offline after restore ${i}`);
      expect(await valueOn(c, 'b', `k${i}`)).toEqual(a);
    }
    // The writes the restore lost come back from b.
    for (let i = 0; i < 5; i++) expect(await valueOn(c, 'a', `late${i}`)).toEqual([`late${i}`]);
    expect(await valueOn(c, 'a', 'k3')).toContain('after the backup');
    const ra = await c.node('a').r.space('s').get('k3');
    const rb = await c.node('b').r.space('s').get('k3');
    expect(rb?.versions).toEqual(ra?.versions);
    await c.close();
  });

  it('(5) a restored replica that writes a little before reconnecting re-issues that write under its new id', async () => {
    const { c, oldId } = await restoredReplica();
    const w = await c.node('a').r.space('s').put('fresh', 'written after the restore');
    c.net.heal();
    await c.settle();
    expect(c.node('a').r.replicaId).not.toBe(oldId);
    await w.synced;
    expect(await valueOn(c, 'b', 'fresh')).toEqual(['written after the restore']);
    const onB = await c.node('b').r.space('s').get('fresh');
    expect(onB?.versions.map((v) => v.replicaId)).toEqual([c.node('a').r.replicaId]);
    expect(await valueOn(c, 'a', 'late4')).toEqual(['late4']);
    await c.close();
  });

  it('(5) an add-wins set written after the restore keeps what the lost writes added: no item tag is taken twice', async () => {
    const { c, journals } = await journaled(['a', 'b'], [['a', 'b']]);
    const on = (n: string) => c.node(n).r.space('s');
    await write(c, 'a', 'k', 3);
    await c.settle();
    const backup = journals.get('a')!.mark;
    // Lost with a's disk, held by b: 'fig', under a's first item tag.
    await on('a').update<AddWinsSet<string>>('list', (s) => merges.addWins.add(s, c.node('a').r.replicaId, 'fig'));
    await c.settle();
    // The restored copy has no set: this add mints the first tag again, for another item.
    await restoreThenAdd(c, journals, 'a', backup, 'list', 'apple');
    for (const n of ['a', 'b']) expect(merges.addWins.values((await on(n).get('list'))?.value as AddWinsSet<string>), n).toEqual(['apple', 'fig']);
    await c.close();
  });

  // A restored copy that was opened, closed and opened again before it met its peer: the epoch the peer saw its lost
  // writes in is not in its history, and its latest open is not where its history forked (epochs.ts seenFor).
  // The relay answers the client's hello, so it knows the history the client announces now (a peer that speaks first
  // does not, and its word still makes the client re-identify, from its latest open only).
  it('(5) a restored client opened twice before reconnecting re-issues what it wrote in both opens', async () => {
    const { c, journals } = await journaled(['b', 'a'], [['b', 'a']], 'b');
    await write(c, 'a', 'k', 3);
    await c.settle();
    const backup = journals.get('a')!.mark;
    const oldId = c.node('a').r.replicaId;
    // After the backup, a is opened again (a new epoch) and delivers writes to b in that epoch: the restored copy
    // has never heard of it.
    await c.stop('a');
    await c.start('a');
    await write(c, 'a', 'late', 5);
    await c.settle();
    c.net.partition(['a']);
    await c.replaceStorage('a', await journals.get('a')!.restore(backup));
    await c.node('a').r.space('s').put('x', 'first open after the restore');
    await c.stop('a');
    await c.start('a');
    const second = await c.node('a').r.space('s').put('y', 'second open after the restore');
    // a announced its newest epoch to b in this open (a hello whose answer the partition lost): what it last told b
    // no longer says where its history forked.
    await c.node('a').r.core.told(c.node('b').r.replicaId);
    c.net.heal();
    await c.settle();
    await second.synced; // the first write's handle went with the instance that closed
    const newId = c.node('a').r.replicaId;
    expect(newId).not.toBe(oldId);
    for (const n of ['a', 'b']) {
      for (const [key, value] of [['x', 'first open after the restore'], ['y', 'second open after the restore']] as const) {
        const got = await c.node(n).r.space('s').get(key);
        expect(got?.siblings, `${key} on ${n}`).toEqual([value]);
        expect(got?.versions.map((v) => v.replicaId), `${key} on ${n}`).toEqual([newId]);
      }
      for (let i = 0; i < 5; i++) expect(await valueOn(c, n, `late${i}`), n).toEqual([`late${i}`]);
    }
    await c.close();
  });

  // N4: a client and its only witness, its relay, both restored, the relay from a copy older than what the client
  // delivered. Nobody can say what the client lost; another client's contexts still name its lost dots. Its writes
  // since the restore took those dots again, and were dropped wherever those contexts were held (restore-claims.ts).
  it('(N4) a client restored together with its relay learns of its restore from the counters others claim', async () => {
    const { c, journals } = await journaled(['hub', 'a', 'b'], [['hub', 'a'], ['hub', 'b']], 'hub');
    const on = (n: string) => c.node(n).r.space('s');
    await write(c, 'a', 'k', 3);
    await c.settle();
    const backupA = journals.get('a')!.mark;
    const backupHub = journals.get('hub')!.mark;
    const oldId = c.node('a').r.replicaId;
    // Lost with both disks, held by b: a's late writes, which b then overwrites (its context names their dots).
    await write(c, 'a', 'late', 5);
    await c.settle();
    for (let i = 0; i < 5; i++) await on('b').put(`late${i}`, `b over late${i}`);
    await c.settle();
    await c.stop('b');
    c.net.partition(['a']);
    await c.replaceStorage('a', await journals.get('a')!.restore(backupA));
    await c.replaceStorage('hub', await journals.get('hub')!.restore(backupHub));
    // The restored a writes under the dots its lost writes used: one on a key b overwrote, one on a new key.
    const again = await on('a').put('late0', 'a after the restore');
    const fresh = await on('a').put('fresh', 'also after the restore');
    c.net.heal();
    await c.start('b');
    await c.settle();
    await again.synced;
    await fresh.synced;
    expect(c.node('a').r.replicaId).not.toBe(oldId);
    for (const n of ['a', 'b', 'hub']) {
      expect(await valueOn(c, n, 'late0'), n).toEqual(['a after the restore', 'b over late0']);
      expect(await valueOn(c, n, 'fresh'), n).toEqual(['also after the restore']);
      for (let i = 1; i < 5; i++) expect(await valueOn(c, n, `late${i}`), n).toEqual([`b over late${i}`]);
    }
    // One value per dot: every replica holds the same versions.
    for (const key of ['late0', 'fresh']) {
      const va = (await on('a').get(key))?.versions;
      expect((await on('b').get(key))?.versions, key).toEqual(va);
    }
    await c.close();
  });

  it('(5) a peer whose hello was made for another replica says hello again, so the restored one still learns what it lost', async () => {
    const { c, oldId } = await restoredReplica();
    // b's link remembers another replica at a's address (a re-identified since, or b's storage came from
    // elsewhere): its next hello is made for that one and carries no word of a's dots.
    const b = c.node('b').r;
    await b.core.storage.transact((tx) => tx.setMeta('peer:sim:b->a', 'AAAAAAAAAAAAAAAA'));
    await c.stop('b');
    await c.start('b');
    const w = await c.node('a').r.space('s').put('k5', 'written after the restore');
    c.net.heal();
    await c.settle();
    expect(c.node('a').r.replicaId).not.toBe(oldId);
    await w.synced;
    // One value per dot: b holds a's write under a's new id beside what b held of k5, and both agree.
    const ra = await c.node('a').r.space('s').get('k5');
    const rb = await c.node('b').r.space('s').get('k5');
    expect(rb?.siblings).toContain('written after the restore');
    expect(rb?.versions).toEqual(ra?.versions);
    expect(await valueOn(c, 'a', 'late4')).toEqual(['late4']);
    await c.close();
  });
});
