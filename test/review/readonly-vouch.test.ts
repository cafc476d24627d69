/**
 * Review rev46d: rev46b made a session whose credential writes in no space teach no epoch records — neither by its
 * hello, nor EPOCHS frames, nor its frames' epoch tables for its own id (epoch-chain.ts peerEpochs `learns`, wire.ts
 * `self`). A frame's epoch table also carries chains of third replicas, and a relay believes those where the client's
 * credential "could say hello as" the replica (epoch-vouch.ts): its token authenticates for the id and the id is its
 * principal's. A read-only token of the principal passes both, so through any other id of its own it taught the
 * records of its principal's writable replica that its hello under that replica's id may no longer teach: the same
 * forged records, stored with the writer's, first of a conflict, up to MAX_REPLICA_RECORDS (the rev46b lock-out).
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, pairTransports, type AcceptOptions, type Replica } from '../../lib/index.js';
import { randomId } from '../../lib/ids.js';
import { EpochHolds } from '../../lib/sync/epoch-holds.js';
import { clientVouch } from '../../lib/sync/epoch-vouch.js';
import { Principals } from '../../lib/sync/principals.js';
import { at11Replicas } from '../support/epoch-peer.js';
import { memoryRelay } from '../support/tab-group.js';
import { until } from '../sync/support.js';

const { replica, open, links } = at11Replicas();

/** Tokens: `<principal>:write` or `<principal>:read` (the relay adapter's grantsOf sets `writes` likewise). */
const authenticate: AcceptOptions['authenticate'] = (token) => {
  const [principal, rights] = token.split(':') as [string, 'read' | 'write'];
  return { rights: () => rights, writes: rights === 'write', principal };
};

describe("a read-only session telling a chain of its principal's writable replica", () => {
  it('teaches none of it: the vouching weighs whether the credential may write, as a hello does', async () => {
    const relay = await replica(memoryStorage());
    const principals = new Principals(relay.core);
    const writer = randomId();
    expect(await principals.claim(writer, 'alice')).toBe(true);
    const chain = [{ e: randomId(), parent: randomId(), fork: 7 }];
    const hub = { core: relay.core, principals, epochHolds: new EpochHolds(relay.core) };
    const reader = clientVouch(hub, {}, authenticate, 'alice:read', 'alice');
    reader.tell(writer, chain);
    await reader.settle();
    expect(relay.core.epochs.parentOf(writer, chain[0]!.e), 'from a token writing nowhere').toBeUndefined();
    // The principal's writable token is believed (epoch-vouch.test.ts): what the read-only one may not do, it may.
    const other = clientVouch(hub, {}, authenticate, 'alice:write', 'alice');
    other.tell(writer, chain);
    await other.settle();
    expect(relay.core.epochs.parentOf(writer, chain[0]!.e)).toEqual({ parent: chain[0]!.parent, fork: 7 });
  });

  it("end to end: the writer's reopened epoch, told by a read-only client of the principal under its own id, is not learned; that client still reads the relay", async () => {
    const relay = await replica(memoryStorage());
    const hub = memoryRelay(relay, undefined, authenticate);
    const wStore = memoryStorage();
    let w: Replica = await replica(wStore);
    // d starts the first meeting's run (the lower id: handshake.ts initiatesAntiEntropy), so its claims go first.
    let d = await replica(memoryStorage());
    while (d.replicaId > relay.replicaId) {
      await d.close();
      open.splice(open.indexOf(d), 1);
      d = await replica(memoryStorage());
    }
    const wId = w.replicaId;
    let link = w.connect(hub.transport('alice:write'), { antiEntropyInterval: 0 });
    await (await w.space('s').put('k', 'first')).synced;
    await (await w.space('s').put('other', 1)).synced;
    link.close();
    await w.close();
    open.splice(open.indexOf(w), 1);
    w = await replica(wStore); // a new epoch, forking from the first: the relay has not met it
    const second = w.core.epoch;
    const [tw, td] = pairTransports();
    const pair = [w.connect(tw, { antiEntropyInterval: 0 }), d.connect(td, { antiEntropyInterval: 0 })];
    await w.space('s').put('k', 'second');
    await until(async () => (await d.space('s').get('k'))?.value === 'second', 'd holds w’s second write');
    for (const l of pair) l.close();
    expect(d.core.epochs.parentOf(wId, second), 'd placed it').toBeDefined();
    // d reads the space as alice, under an id of its own: its claims name w's second epoch, with its chain.
    let runs = 0;
    relay.on('antiEntropy', (run) => void (run.peer === d.replicaId && runs++));
    const errors: unknown[] = [];
    d.on('error', (e) => errors.push(e));
    let dRuns = 0;
    d.on('antiEntropy', (run) => void (run.peer === relay.replicaId && dRuns++));
    const reading = d.connect(hub.transport('alice:read'), { antiEntropyInterval: 0 });
    links.push(reading);
    await until(() => runs >= 1 && dRuns >= 1 && reading.status === 'synced', 'the first meeting’s anti-entropy ran on both sides');
    await until(async () => (await d.space('s').get('other'))?.value === 1, 'd reads the relay');
    expect(relay.core.epochs.parentOf(wId, second), 'w’s epoch, told by a session writing nowhere').toBeUndefined();
    expect((await relay.space('s').get('k'))?.siblings, 'nothing of d stored').toEqual(['first']);
    await relay.core.saveEpochs();
    const stored = await relay.core.storage.getMeta<unknown[]>('epochs:' + wId);
    expect(JSON.stringify(stored ?? []).includes(second)).toBe(false);
  });
});
