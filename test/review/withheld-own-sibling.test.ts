/**
 * A version superseded by a big write of its own writer, behind a narrow link (simulator, withheld seed 1733502631).
 *
 * d, a peer of an earlier release (no key parts) behind a narrow link, holds a's small write of k. While d is away, a
 * writes k again with a value the link cannot carry. The key's context alone goes in its place (fit-state.ts), but the
 * one entry that says a's small write is superseded is a's own, and a also has a version (the big one) in the state: an
 * entry a:n would cover it. The entry goes lowered to the highest of a's versions the peer is known to hold that the
 * state superseded (the link's model of the peer: here it learns d's version from d's anti-entropy claim); before, it
 * was left out and d kept showing a's overwritten value for good.
 *
 * At protocol 11 (withheld seed 1733502631 jittered at SIM_SPEAKS=11) the same: a's entry there is a point naming its
 * epoch, and such an entry of a replica with a version in the state was left out, not lowered; it goes lowered to the
 * point of a's version d holds.
 *
 * The order matters: the catch-up stream meets k first, while the link knows nothing of d's k, and leaves it out; the
 * key is then not tried again in repair frames while its state stays the same (wire.ts LEFT OUT) — unless what the link
 * has learned since lets its context tell more.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { pairTransports, type Link, type Replica } from '../../lib/index.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { connect, FRAME, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

/** Both ends at protocol 11: every dot names its epoch, and a context's points travel. */
const SPEAKS_11 = [...new Set([...PROTOCOL_VERSIONS, EPOCH_DOTS])];

/**
 * d gets a's small write of k over a narrow link, and goes away; a overwrites k with a value the link cannot carry.
 * `meetFirst`: a writes once the hellos went (at 11 a fresh storage tags from its first meeting with a peer at 11).
 */
async function overwriteWhileAway(a: Replica, d: Replica, meetFirst = false): Promise<void> {
  const links = connect(a, d, FRAME);
  if (meetFirst) await until(() => a.status === 'synced' && d.status === 'synced', 'linked');
  await (await a.space('s').put('k', 'small')).synced;
  await until(async () => (await d.space('s').get('k'))?.value === 'small', 'd holds a\'s small write');
  for (const l of links) l.close();
  await a.space('s').put('k', 'x'.repeat(30 * 1024)); // overwrites the small write (the key's own context)
}

/**
 * d back on a narrow link with periodic anti-entropy (d's claims tell a which version of k it holds): returns the
 * links once k was left out on it and a's overwritten small write is gone from d.
 */
async function backUntilDropped(a: Replica, d: Replica, errors: unknown[]): Promise<Link[]> {
  const [ta, td] = pairTransports({ maxFrameBytes: FRAME });
  const links = [a.connect(ta, { antiEntropyInterval: 30 }), d.connect(td, { antiEntropyInterval: 30 })];
  await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'k left out on d\'s link');
  await until(async () => (await d.space('s').get('k')) === undefined, 'a\'s overwritten small write gone from d', 2000);
  return links;
}

describe('a key whose own writer overwrote it with a value a narrow link cannot carry', () => {
  it('is dropped behind the link once the link learns the peer holds the old version', async () => {
    const a = await replica();
    const d = await replica(true);
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    await overwriteWhileAway(a, d);
    expect((await a.space('s').get('k'))?.versions).toHaveLength(1);
    const links = await backUntilDropped(a, d, errors);
    const rec = await d.core.storage.get('s', 'k');
    expect(rec?.vs ?? [], 'd holds no version of k').toEqual([]);
    // The big write stays withheld from d, pending on a.
    expect(a.core.acks.isWithheldFrom(d.replicaId, 's', 'k')).toBe(true);
    for (const l of links) l.close();
  });

  it('at protocol 11 too, where a\'s entry names its epoch: the point of d\'s version goes', async () => {
    const a = await replica(false, SPEAKS_11);
    const d = await replica(false, SPEAKS_11);
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    await overwriteWhileAway(a, d, true);
    const small = (await d.core.storage.get('s', 'k'))?.vs ?? [];
    expect(small.map((v) => v.ep), 'd\'s version of k names its epoch').toEqual([expect.any(String)]);
    const links = await backUntilDropped(a, d, errors);
    expect((await d.core.storage.get('s', 'k'))?.vs ?? [], 'd holds no version of k').toEqual([]);
    expect(a.core.acks.isWithheldFrom(d.replicaId, 's', 'k')).toBe(true);
    for (const l of links) l.close();
  });

  it('also when another writer is in the key\'s context: the first context alone goes, and the peer is still asked', async () => {
    // c wrote k first and a's small write superseded it: the context alone is then {c} at once, not nothing — and the
    // link's model held that context as "the peer's state" of k, so the ask was dropped (found by review; the loss then
    // hung on whether an anti-entropy turn happened to hand the link d's claim of k).
    const a = await replica();
    const c = await replica();
    const d = await replica(true);
    const errors: unknown[] = [];
    a.on('error', (e) => errors.push(e));
    const toC = connect(a, c);
    await (await c.space('s').put('k', 'c1')).synced;
    await until(async () => (await a.space('s').get('k'))?.value === 'c1', 'a holds c\'s write');
    for (const l of toC) l.close();
    await overwriteWhileAway(a, d);
    for (const l of await backUntilDropped(a, d, errors)) l.close();
  });
});
