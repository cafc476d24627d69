/**
 * Anti-entropy between a replica that tags (protocol 11) and a peer of an earlier release, both holding the same key
 * (docs/design/epochs-build.md, "Item 6 — decided": a state naming an epoch never goes to a peer below 11). The tagged
 * state goes neither as a claim (claimed as nothing) nor whole (left out), so:
 *
 *   - the tagging side's write of the key is not acknowledged by that peer: neither the establishing run's end nor the
 *     peer's later acknowledgements report it synced (found by gc-peer 35 with SIM_SPEAKS=mixed);
 *   - the earlier peer's own write of the key still reaches the tagging side, also where the tagging side peels the
 *     peer's sketch (before, it sent its state whole, the link left it out, and the peer — never told we hold the key
 *     differently — ended the run and reported its write synced though we never got it: tabs 62, restore-relay 17).
 *
 * Both storages hold their writes before the two ever meet, so the first session has no cursor and repairs by
 * anti-entropy. Simulated network, memory storages, virtual time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage } from '../../lib/memory-storage.js';
import { openReplica } from '../../lib/replica.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { prng } from '../../lib/check-merge.js';
import { Cluster } from '../sim/cluster.js';
import { settle, VirtualClock } from '../sim/clock.js';
import { SimDisk } from '../support/sim-disk.js';
import { metAt11 } from '../support/epoch-peer.js';

const WITH_11: readonly number[] = [...PROTOCOL_VERSIONS, EPOCH_DOTS];
const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

/** A storage holding a write of each key (tagged where `speaks` lists 11: the storage met a peer at 11 first), and its replicaId. */
async function written(seed: number, keys: readonly string[], value: string, speaks?: readonly number[]): Promise<{ storage: StorageAdapter; id: string }> {
  const storage = memoryStorage();
  if (speaks?.includes(EPOCH_DOTS)) await metAt11(storage);
  const r = await openReplica({ storage, random: prng(seed), ...(speaks ? { speaks } : {}) });
  for (const key of keys) await r.space('s').put(key, value);
  const id = r.replicaId;
  await r.close();
  return { storage, id };
}

/**
 * Two nodes, `tagging` at 11 and `old` of the release `oldSpeaks`, holding their writes of `keys` (and what `then` did to
 * their storages after), meeting for the first time; `initiator` says which one's id is lower (it starts the
 * anti-entropy runs: handshake.ts initiatesAntiEntropy).
 */
async function firstMeeting(
  keys: { tagging: readonly string[]; old: readonly string[] },
  oldSpeaks: readonly number[],
  initiator: 'tagging' | 'old',
  sketches = false,
  then?: (tagging: StorageAdapter, old: StorageAdapter) => Promise<void>,
): Promise<Cluster> {
  for (let seed = 1; seed < 64; seed += 2) {
    const t = await written(seed, keys.tagging, 't', WITH_11);
    const o = await written(seed + 1, keys.old, 'o', oldSpeaks);
    await then?.(t.storage, o.storage);
    if ((t.id < o.id) !== (initiator === 'tagging')) continue;
    const storages: Record<string, StorageAdapter> = { tagging: t.storage, old: o.storage };
    const c = await Cluster.create({
      seed: 5,
      nodes: ['tagging', 'old'],
      edges: [['tagging', 'old']],
      speaks: { tagging: WITH_11, old: oldSpeaks },
      storage: (name) => storages[name]!,
      sketches,
      link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
    });
    clusters.push(c);
    return c;
  }
  throw new Error('no seed gives that initiator');
}

const stored = async (c: Cluster, node: string, key: string) => c.drive(c.node(node).storage.get('s', key));
const writers = async (c: Cluster, node: string, key: string) => ((await stored(c, node, key))?.vs ?? []).map((v) => v.r).sort();

describe('anti-entropy with a peer below 11 over a key whose state names an epoch', () => {
  // These two passed before as well (the peer asks for the key, and the log frame that would carry it leaves it out):
  // they keep the claim's withhold from changing what the other paths do.
  for (const initiator of ['tagging', 'old'] as const) {
    it(`the tagging side's write stays pending (Merkle path, protocol 6 peer, ${initiator} starts the run)`, async () => {
      // The key's record does not move in the run (the peer has nothing of it to send): its claim alone went, as nothing.
      const c = await firstMeeting({ tagging: ['k'], old: ['j'] }, [5, 6], initiator);
      await c.settle();
      const t = c.node('tagging').r;
      expect((await stored(c, 'tagging', 'k'))!.vs.some((v) => v.ep !== undefined)).toBe(true);
      expect(await stored(c, 'old', 'k')).toBeUndefined();
      expect(await writers(c, 'tagging', 'j')).toEqual([c.node('old').r.replicaId]);
      expect(t.pending).toBe(1);
      expect(c.node('old').r.pending).toBe(0);
    });
  }

  // The first (no sketch) passed before too; the second failed: the tagging side sent its state of k whole, the link
  // left it out, and the peer ended the run holding k as before, its write reported synced.
  for (const sketches of [false, true]) {
    it(`the earlier peer's write reaches the tagging side, and only then counts as synced (fast-path peer, tagging side starts the run${sketches ? ', peeling a sketch' : ''})`, async () => {
      const old = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
      // More keys than one range item takes (antientropy.ts SMALL_SUBTREE): the opening goes as nodes, which a sketch answers.
      const c = await firstMeeting({ tagging: ['k', 'f1', 'f2', 'f3', 'f4', 'f5'], old: ['k'] }, old, 'tagging', sketches);
      await c.settle();
      const t = c.node('tagging').r;
      const o = c.node('old').r;
      expect(await writers(c, 'tagging', 'k')).toEqual([o.replicaId, t.replicaId].sort());
      expect(await writers(c, 'old', 'k')).toEqual([o.replicaId]);
      expect(o.pending).toBe(0);
      expect(t.pending).toBe(6);
    });
  }

  it("a tagging writer restored from a copy, its state of the key covering the peer's: the run's end does not report its write synced (gc-peer 35)", async () => {
    for (let seed = 1; seed < 64; seed++) {
      const c = await restoredBesideOld(seed);
      const t = c.node('tagging').r;
      const o = c.node('old').r;
      // The tagging side starts the run (handshake.ts initiatesAntiEntropy): its claim of k goes first, as nothing.
      if (t.replicaId > o.replicaId) continue;
      await c.settle();
      expect((await stored(c, 'tagging', 'k'))!.vs).toEqual([expect.objectContaining({ r: t.replicaId, ep: expect.any(String) })]);
      // The tagged state went back as its context alone, which covers the peer's version: dropped there (it went on
      // holding it until the tagging side answered the state it was sent whole: gc-peer 1735100147, below).
      expect(await writers(c, 'old', 'k')).toEqual([]);
      expect(t.pending).toBe(1);
      return;
    }
    throw new Error('no seed gives the tagging side the lower id');
  });

  // gc-peer 1735100147 in small: the tagging side's state of k supersedes the earlier peer's, and its claim went as
  // nothing (old-peers.ts), so the peer sent its state whole and ended the run (a run with no sketch: protocol 6). The tagging side must send its state back — the link leaves it out and tells its context alone — or
  // the peer keeps the superseded version for good, and it comes back once the tombstone is collected. Failed before
  // for both initiators (the peer kept `o`); at 11 the state itself goes.
  for (const initiator of ['old', 'tagging'] as const) {
    it(`a tagged delete superseding the earlier peer's version reaches it as a context alone (Merkle path, ${initiator} starts the run)`, async () => {
      const c = await deletedBeside(initiator);
      await c.settle();
      const t = c.node('tagging').r;
      const o = c.node('old').r;
      expect((await stored(c, 'tagging', 'k'))!.vs).toEqual([expect.objectContaining({ r: t.replicaId, ep: expect.any(String), d: 1 })]);
      expect(await writers(c, 'old', 'k')).toEqual([]);
      expect(await c.drive(o.space('s').get('k'))).toBeUndefined();
      expect(t.pending).toBe(1);
    });
  }
});

/**
 * `old` (protocol 6) holds its write `o` of k; `tagging` (at 11), never having met it, deleted k with the context of
 * `old`'s read (a tagged tombstone superseding `o`). They then meet: no cursor, so anti-entropy, `initiator` holding the
 * lower id. Started by `old`, which then holds more keys than one range item takes (antientropy.ts SMALL_SUBTREE), the
 * run opens with nodes that the tagging side answers with ranges; started by `tagging`, with its one range. Either way
 * the tagging side's claim of k goes as nothing and the earlier peer's turn ends the run.
 */
async function deletedBeside(initiator: 'tagging' | 'old'): Promise<Cluster> {
  const keys = { tagging: [], old: ['k', ...(initiator === 'old' ? ['f1', 'f2', 'f3', 'f4', 'f5'] : [])] };
  return firstMeeting(keys, [5, 6], initiator, false, async (storage, oldStorage) => {
    const old = await openReplica({ storage: oldStorage, speaks: [5, 6] });
    const context = (await old.space('s').get('k'))!.context;
    await old.close();
    const tagging = await openReplica({ storage, speaks: WITH_11 });
    await tagging.space('s').delete('k', { context });
    await tagging.close();
  });
}

/** Runs `p` on `clock` (as Cluster.drive does, before a cluster exists). */
async function driveOn<T>(clock: VirtualClock, p: Promise<T>): Promise<T> {
  let done = false;
  const watched = p.finally(() => (done = true));
  await settle();
  while (!done) if (!(await clock.step())) await settle();
  return watched;
}

/**
 * gc-peer 35 (SIM_SPEAKS=mixed) in small: `old` (protocol 6) writes k, which `tagging` (at 11) gets; `tagging` is
 * restored from a copy older than what `old` holds of its log (so the next session repairs by anti-entropy) and,
 * while `old` is down, overwrites k: a tagged state covering `old`'s, which `old` cannot take.
 */
async function restoredBesideOld(seed: number): Promise<Cluster> {
  const clock = new VirtualClock();
  const disk = new SimDisk({ timers: clock });
  await driveOn(clock, metAt11(disk.instance()));
  const c = await Cluster.create({
    seed,
    clock,
    nodes: ['tagging', 'old'],
    edges: [['tagging', 'old']],
    speaks: { tagging: WITH_11, old: [5, 6] },
    disk: (name, timers) => (name === 'tagging' ? disk : new SimDisk({ timers })),
    link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
  });
  clusters.push(c);
  await c.drive(c.node('old').r.space('s').put('k', 'from the earlier release'));
  await c.settle();
  const copy = c.node('tagging').disk.copy();
  await c.drive(c.node('tagging').r.space('s').put('y', 'after the copy'));
  await c.settle();
  await c.stop('old');
  await c.replaceStorage('tagging', copy, { restored: true });
  await c.drive(c.node('tagging').r.space('s').put('k', 'over it, tagged'));
  await c.start('old');
  return c;
}
