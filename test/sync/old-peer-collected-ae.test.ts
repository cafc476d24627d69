/**
 * A collected delete meeting, by anti-entropy's fast path, a peer of an earlier release still holding the version it
 * superseded (the soak at the announced default: clock-skew 1735000128, restore-relay 1735000021).
 *
 * `old` (protocol [5 … 10]) wrote k; `tagging` (at 11: its storage met a peer at 11) holds the same version, deletes k
 * and collects the tombstone: its state of k is a context alone naming its epoch, which never goes to a peer below 11 —
 * the wire leaves it out and tells the context alone (fit-state.ts). The two then meet for the first time (no cursor:
 * the run repairs), one answering the opening with a sketch, the other peeling it:
 *
 *   - `tagging` peels: it claims k as nothing (old-peers.ts), `old` sends its state of k whole, and only the peeling
 *     side can answer it (repair.ts answerOld) — before, `old` kept the superseded version for good;
 *   - `tagging` sends the sketch: `old`, peeling, sends k whole where its state is small, and the sketch's sender
 *     answers it (repair.ts sendBack, offerBack); else `old` claims k and the sketch's sender answers the claim
 *     (the turn's exchange).
 *
 * Each case fails with its own answer taken out: the first on the commit before answerOld (fc1106c).
 *
 * Real replicas on memory storages over a paired transport; seeded ids (the lower one starts the run and peels).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { prng } from '../../lib/check-merge.js';
import { collectTombstones } from '../../lib/collection.js';
import { namesEpochs } from '../../lib/dvv.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica, type Transport } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MsgType, PROTOCOL_VERSIONS, type Message } from '../../lib/sync/messages.js';
import { metAt11, WITH_11 } from '../support/epoch-peer.js';
import { decodedFrom, synced, tapped } from './support.js';

const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
const LINK = { antiEntropyInterval: 0, backoff: { base: 5, max: 20 } } as const;

const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

/** `inner` with every frame its side sends decoded into `log` (a link below 11: frames decode with the ids alone). */
function recorded(inner: Transport, log: Message[], ids: () => [string, string]): Transport {
  return tapped(inner, (frame, conn) => {
    if (frame instanceof Uint8Array) log.push(...decodedFrom([frame], 0, ids()));
    conn.send(frame);
  });
}

/**
 * `tagging` and `old` holding the same shared keys and `old`'s write of k, `tagging` having deleted k and collected
 * the tombstone; the replica ids ordered so that `peels` starts the run, and the other side set to sketch its answer.
 */
async function apart(peels: 'tagging' | 'old', value: string, keys: readonly string[] = ['k']): Promise<{ t: Replica; o: Replica }> {
  for (let seed = 1; seed < 64; seed += 2) {
    const t = await openReplica({ storage: await metAt11(memoryStorage()), speaks: WITH_11, random: prng(seed) });
    const o = await openReplica({ storage: memoryStorage(), speaks: OLD, random: prng(seed + 1) });
    if ((t.replicaId < o.replicaId) !== (peels === 'tagging')) {
      await t.close();
      await o.close();
      continue;
    }
    open.push(t, o);
    const so = o.space('s');
    t.space('s');
    // Enough keys that the opening goes as nodes, most of them agreeing (a sketch answers such an opening).
    for (let i = 0; i < 60; i++) await so.put(`shared${i}`, i);
    for (const k of keys) await so.put(k, value);
    const page = await o.core.storage.scan('s', { limit: 1000 });
    await t.core.join('s', page.map(([key, rec]) => [key, { vs: rec.vs, cc: rec.cc }] as const));
    for (const k of keys) await t.space('s').delete(k);
    await new Promise((r) => setTimeout(r, 5));
    expect(await collectTombstones(t.core, 1)).toBe(keys.length);
    for (const k of keys) {
      const rec = (await t.core.storage.get('s', k))!;
      expect(rec.vs).toEqual([]);
      expect(namesEpochs(rec), "the collected state names tagging's epoch").toBe(true);
    }
    (peels === 'tagging' ? o : t).core.sketchAlways = true;
    return { t, o };
  }
  throw new Error(`no seed lets ${peels} start the run`);
}

/** Connects the two, waits until both are synced; what each sent. */
async function meet(t: Replica, o: Replica, maxFrameBytes?: number): Promise<{ byT: Message[]; byO: Message[] }> {
  const [tt, to] = pairTransports(maxFrameBytes ? { maxFrameBytes } : {});
  const byT: Message[] = [];
  const byO: Message[] = [];
  links.push(t.connect(recorded(tt, byT, () => [t.replicaId, o.replicaId]), LINK));
  links.push(o.connect(recorded(to, byO, () => [o.replicaId, t.replicaId]), LINK));
  await synced(t, o);
  return { byT, byO };
}

const sketched = (log: readonly Message[]) => log.some((m) => m.type === MsgType.AntiEntropy && m.items.some((it) => it.kind === 'sketch'));
/** How `old` told its state of k: whole (a repair CHANGES), or as a claim in its turn. */
const sentWhole = (log: readonly Message[]) => log.some((m) => m.type === MsgType.Changes && m.upTo === 0 && m.entries.some(([k]) => k === 'k'));
const claimed = (log: readonly Message[]) => log.some((m) => m.type === MsgType.AntiEntropy && m.items.some((it) => (it.kind === 'keys' || it.kind === 'range') && it.keys.some(([k]) => k === 'k')));

// A state of k small enough that the peeling side sends it whole (fast-path.ts WHOLE_BYTES), and one it claims instead.
const SMALL = 'o';
const LARGE = 'from the earlier release, a value too long to go whole at once';

describe('a collected delete on a tagging replica meets, by a sketch, a peer below 11 holding the version it superseded', () => {
  for (const [peels, value, how] of [
    ['tagging', SMALL, 'the tagging side peels the sketch and claims k as nothing; old sends k whole'],
    ['old', SMALL, 'the tagging side sends the sketch; old, peeling, sends k whole'],
    ['old', LARGE, 'the tagging side sends the sketch; old, peeling, claims k'],
  ] as const) {
    it(`the peer drops that version (${how})`, async () => {
      const { t, o } = await apart(peels, value);
      const { byT, byO } = await meet(t, o);
      // The run went by the fast path, the sketch from the side that did not start it, and old told k as the case says.
      expect(sketched(peels === 'tagging' ? byO : byT)).toBe(true);
      expect(sketched(peels === 'tagging' ? byT : byO)).toBe(false);
      expect(sentWhole(byO)).toBe(value === SMALL);
      expect(claimed(byO)).toBe(value === LARGE);
      expect(await o.space('s').get('k'), "the earlier release's superseded write, readable on old").toBeUndefined();
      expect((await o.core.storage.get('s', 'k'))?.vs ?? []).toEqual([]);
      // Nothing naming an epoch reached old; the shared keys are as they were.
      for (const [, rec] of await o.core.storage.scan('s', { limit: 1000 })) expect(namesEpochs(rec)).toBe(false);
      expect((await o.space('s').get('shared7'))?.value).toBe(7);
    });
  }

  // Many such keys, over small frames: old's whole states come in several repair frames, each remembered, all answered.
  it('the peer drops every such version when its whole states come in several frames (the tagging side peels)', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `gone${i}`);
    const { t, o } = await apart('tagging', SMALL, keys);
    const { byO } = await meet(t, o, 2048);
    expect(sketched(byO)).toBe(true);
    const frames = byO.filter((m) => m.type === MsgType.Changes && m.upTo === 0 && m.entries.some(([k]) => k.startsWith('gone')));
    expect(frames.length, 'repair frames carrying the keys').toBeGreaterThan(1);
    for (const k of keys) expect(await o.space('s').get(k), k).toBeUndefined();
    expect((await o.space('s').get('shared7'))?.value).toBe(7);
  });
});
