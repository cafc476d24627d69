// Records of a third replica's epochs that reach a relay through its clients only (docs/design/epochs-build.md,
// "Records that never arrive"; lib/sync/epoch-vouch.ts). Writer w writes k through the relay, reopens (a new epoch,
// forking from its first one) and overwrites k on a client-to-client link to d alone; d then brings k to the relay,
// and e reads it there. A relay that cannot place w's new epoch keeps w's first version beside the second (and the
// points of both), while d, which placed it, holds the second alone: they never agree. The relay believes d about w's
// records where d's token could say hello as w there: anonymous and w bound to no principal, or the principal that
// owns w. Not from another principal, nor for an id the authenticator refuses the token for; and records of a replica
// no stored state names go with the session that told them.
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, pairTransports, type AcceptOptions, type Replica } from '../../lib/index.js';
import { at11Replicas } from '../support/epoch-peer.js';
import { memoryRelay } from '../support/tab-group.js';
import { until } from './support.js';
import { MAX_REPLICA_RECORDS, UNTAGGED, type EpochRecord } from '../../lib/epoch-points.js';
import { EpochHolds } from '../../lib/sync/epoch-holds.js';
import { ChainVouch } from '../../lib/sync/epoch-vouch.js';
import { Principals } from '../../lib/sync/principals.js';

const { replica, open, links } = at11Replicas();

const siblings = async (r: Replica) => (await r.space('s').get('k'))?.siblings;
const pts = async (r: Replica) => (await r.core.storage.get('s', 'k'))?.pts;

/** A principal per token ('' none). */
const tokens: AcceptOptions['authenticate'] = (token) => ({ rights: () => 'write', ...(token ? { principal: token } : {}) });

/**
 * w writes k through the relay (token `wToken`), reopens and overwrites k on a link to d alone; d (token `dToken`)
 * then syncs with the relay, then e. Returns once e holds what the relay holds of w's second write.
 */
async function writtenAround(wToken: string, dToken: string) {
  const relay = await replica(memoryStorage());
  const hub = memoryRelay(relay, undefined, tokens);
  const wStore = memoryStorage();
  let w = await replica(wStore);
  const d = await replica(memoryStorage());
  const e = await replica(memoryStorage());
  const wId = w.replicaId;
  let link = w.connect(hub.transport(wToken), { antiEntropyInterval: 0 });
  await (await w.space('s').put('k', 'first')).synced;
  link.close();
  const first = w.core.epoch;
  await w.close();
  open.splice(open.indexOf(w), 1);
  w = await replica(wStore); // a new epoch, forking from the first at its log top
  expect(w.replicaId).toBe(wId);
  const second = w.core.epoch;
  expect(w.core.epochs.parentOf(wId, second)?.parent).toBe(first);
  const [tw, td] = pairTransports();
  const pair = [w.connect(tw, { antiEntropyInterval: 0 }), d.connect(td, { antiEntropyInterval: 0 })];
  await w.space('s').put('k', 'second');
  await until(async () => (await siblings(d))?.[0] === 'second', 'd holds w’s second write');
  for (const l of pair) l.close();
  await w.close();
  open.splice(open.indexOf(w), 1);
  links.push(d.connect(hub.transport(dToken), { antiEntropyInterval: 0 }));
  await until(async () => (await siblings(relay))?.includes('second') === true, 'the relay holds the second write');
  links.push(e.connect(hub.transport(''), { antiEntropyInterval: 0 }));
  await until(async () => (await siblings(e))?.includes('second') === true, 'e holds the second write');
  return { relay, d, e, wId, second };
}

describe("a relay learns a third replica's records from a client whose token could speak for it", () => {
  it('anonymous, the id bound to no principal: the relay and its other client place w’s epoch and drop what d drops', async () => {
    const { relay, d, e, wId, second } = await writtenAround('', '');
    expect(relay.core.epochs.parentOf(wId, second), 'the relay learned w’s record from d').toBeDefined();
    expect(e.core.epochs.parentOf(wId, second), 'and told it to e').toBeDefined();
    for (const r of [relay, d, e]) expect(await siblings(r)).toEqual(['second']);
    expect(await pts(relay)).toEqual(await pts(d));
    expect(await pts(e)).toEqual(await pts(d));
  });

  it('the principal that owns w: believed', async () => {
    const { relay, e, wId, second } = await writtenAround('alice', 'alice');
    expect(relay.core.epochs.parentOf(wId, second)).toBeDefined();
    for (const r of [relay, e]) expect(await siblings(r)).toEqual(['second']);
  });

  it('another principal, an anonymous client while a principal owns w, a token refused for w’s id: nothing learned', async () => {
    // As before the vouching: the relay judges w's new epoch a root and keeps both versions (the divergence stays
    // where only such a client holds the record; no false record of w can be fixed through it either).
    for (const [wToken, dToken] of [
      ['alice', 'mallory'],
      ['alice', ''],
    ]) {
      const { relay, wId, second } = await writtenAround(wToken!, dToken!);
      expect(relay.core.epochs.parentOf(wId, second), `${wToken} / ${dToken}`).toBeUndefined();
      expect((await siblings(relay))?.sort()).toEqual(['first', 'second']);
      for (const l of links.splice(0)) l.close();
    }
    let wId = '';
    // Anonymous (no principal) and w bound to no one: only the authenticator stands in the way.
    const refused: AcceptOptions['authenticate'] = (token, id) => {
      if (token === 'd' && id === wId) throw new ConcordError('UNAUTHORIZED', 'not for this id');
      return { rights: () => 'write' };
    };
    const relay = await replica(memoryStorage());
    const hub = memoryRelay(relay, undefined, refused);
    const w = await replica(memoryStorage());
    wId = w.replicaId;
    // A record of w told by d, the only sender: w never spoke to this relay.
    const d = await replica(memoryStorage());
    const [tw, td] = pairTransports();
    const pair = [w.connect(tw, { antiEntropyInterval: 0 }), d.connect(td, { antiEntropyInterval: 0 })];
    await w.space('s').put('k', 'w');
    await until(async () => (await siblings(d))?.[0] === 'w', 'd holds w’s write');
    for (const l of pair) l.close();
    links.push(d.connect(hub.transport('d'), { antiEntropyInterval: 0 }));
    await until(async () => (await siblings(relay))?.[0] === 'w', 'the relay holds w’s write');
    expect(relay.core.epochs.parentOf(wId, w.core.epoch)).toBeUndefined();
  });

  it('records of a replica nothing stored names are held, stored once a state naming it is joined, else forgotten with the session; bounded a session', async () => {
    const relay = await replica(memoryStorage());
    const holds = new EpochHolds(relay.core);
    const session = {};
    const vouch = new ChainVouch({ core: relay.core, principals: new Principals(relay.core), holds, principal: '', accepts: async () => true }, session);
    const chain = (n: number): EpochRecord[] => Array.from({ length: n }, (_, i) => ({ e: `e${i}`, parent: i === 0 ? UNTAGGED : `e${i - 1}`, fork: i }));
    const stored = (r: string) => relay.core.storage.getMeta<unknown>('epochs:' + r);
    vouch.tell('told-only-xxxxxxxxxx', chain(3));
    vouch.tell('written-xxxxxxxxxxxx', chain(2));
    expect(vouch.waiting).toBe(true);
    await vouch.settle();
    expect(vouch.waiting).toBe(false);
    expect(relay.core.epochs.parentOf('told-only-xxxxxxxxxx', 'e2')).toEqual({ parent: 'e1', fork: 2 });
    vouch.tell('told-only-xxxxxxxxxx', chain(3)); // known now: nothing waits
    expect(vouch.waiting).toBe(false);
    // A state naming one of them is about to be joined: its records are kept and stored.
    holds.joining([['k', { vs: [{ r: 'written-xxxxxxxxxxxx', n: 2, t: 1, c: 0, v: '1', ep: 'e1' }], cc: { 'written-xxxxxxxxxxxx': 2 } }]], true);
    await until(async () => (await stored('written-xxxxxxxxxxxx')) !== undefined, 'the kept records stored');
    await relay.core.saveEpochs();
    expect(await stored('told-only-xxxxxxxxxx'), 'held: not stored').toBeUndefined();
    holds.release(session);
    expect(relay.core.epochs.parentOf('told-only-xxxxxxxxxx', 'e2'), 'forgotten with the session').toBeUndefined();
    expect(relay.core.epochs.parentOf('written-xxxxxxxxxxxx', 'e1')).toBeDefined();

    // An id whose chain was not learned is weighed once a session: a client resends it in every frame naming its epochs.
    let asked = 0;
    const denied = new ChainVouch({ core: relay.core, principals: new Principals(relay.core), holds, principal: '', accepts: async () => (asked++, false) }, {});
    denied.tell('owned-elsewhere-xxxx', chain(2));
    await denied.settle();
    denied.tell('owned-elsewhere-xxxx', chain(2));
    expect(denied.waiting).toBe(false);
    expect(asked).toBe(1);
    expect(relay.core.epochs.parentOf('owned-elsewhere-xxxx', 'e1')).toBeUndefined();

    // At most MAX_REPLICA_RECORDS records a session: the 17th chain of 4 096 is not learned.
    const bounded = new ChainVouch({ core: relay.core, principals: new Principals(relay.core), holds, principal: '', accepts: async () => true }, {});
    const ids = Array.from({ length: 17 }, (_, i) => `bulk-${String(i).padStart(2, '0')}-xxxxxxxxxx`);
    for (const r of ids) bounded.tell(r, chain(4096));
    await bounded.settle();
    expect(16 * 4096).toBe(MAX_REPLICA_RECORDS);
    expect(ids.filter((r) => relay.core.epochs.parentOf(r, 'e0') !== undefined)).toEqual(ids.slice(0, 16));
  });
});
