// A reader of protocol 10 (an earlier release still in the field) behind a relay of this release, and a writer of this
// release. Found by the review last50a as "a protocol-10 reader syncing a space the relay does not hold yet never
// receives later writes"; traced: the space being new to the relay plays no part. A fresh writer whose first session
// completes its hello with the relay (both at 11) before it writes starts tagging at that meeting (identity.ts
// meetEpochPeer); its states then name an epoch, and a state naming an epoch never goes to a peer below 11
// (docs/design/epochs-build.md, "Item 6 — decided: never down-convert", cost 2): the relay leaves the key out for the
// old reader and reports it (PROTOCOL); protocol 10 has no frame to tell the reader. A writer that wrote before its
// hello settled (over-value-loop.test.ts) tags from its next open only, so its writes reached the old reader there.
// This pins the documented behaviour end to end, and the way out: the reader upgraded gets the key.
import { afterAll, describe, expect, it } from 'vitest';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { ConcordError, memoryStorage, openReplica } from '../../lib/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { tracker, until } from '../security/support.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const backoff = { base: 20, max: 200 };
const at10 = PROTOCOL_VERSIONS.filter((v) => v <= 10);

describe('a reader of protocol 10 behind a relay of this release', () => {
  it('gets an untagged writer\'s keys, none of a tagging writer\'s (the relay reports each), and those once upgraded', async () => {
    const relay = await t.relay();
    const relayErrors: unknown[] = [];
    relay.replica.on('error', (e) => relayErrors.push(e));
    // The tagging writer: fresh, its hello with the relay settled before any write.
    const tagging = t.add(await openReplica({ storage: memoryStorage() }));
    tagging.connect(webSocketTransport(relay.url), { backoff });
    await until(() => tagging.status === 'synced', 'the tagging writer synced');
    // An untagged writer: of protocol 10 too (it never tags).
    const plain = t.add(await openReplica({ storage: memoryStorage(), speaks: [...at10] }));
    plain.connect(webSocketTransport(relay.url), { backoff });
    await until(() => plain.status === 'synced', 'the untagged writer synced');
    const storage = memoryStorage();
    // Its id the smallest, so that the upgraded reader starts the periodic anti-entropy rounds (the smaller id does:
    // handshake.ts initiatesAntiEntropy) at its own short interval, not the relay's 60 s. Every byte drawn is 62, the
    // alphabet's '-' (ids.ts), below every other character of it: draws near 0 gave 'A', which the relay's id beat
    // whenever it began with a digit or '-' (one run in six).
    const reader = await openReplica({ storage, speaks: [...at10], random: () => (62 + Math.random() * 0.5) / 256 });
    const rs = reader.space('s');
    const link = reader.connect(webSocketTransport(relay.url), { backoff });
    await until(() => reader.status === 'synced', 'the reader synced the empty space');
    await tagging.space('s').put('tagged', 1);
    await until(async () => (await relay.replica.space('s').get('tagged'))?.value === 1, 'the tagged write at the relay');
    await plain.space('s').put('plain', 2);
    // The relay's stream to the reader goes in its log's order: the later key there, the earlier one was sent or left out.
    await until(async () => (await rs.get('plain'))?.value === 2, 'the untagged write at the old reader');
    expect(await rs.get('tagged')).toBeUndefined();
    const told = relayErrors.filter((e) => e instanceof ConcordError && e.code === 'PROTOCOL' && /"tagged"/.test(e.message) && /names an epoch/.test(e.message) && e.message.includes(reader.replicaId));
    expect(told.length).toBeGreaterThanOrEqual(1);
    // Upgraded (the same storage opened by this release): the key arrives.
    link.close();
    await reader.close();
    const upgraded = t.add(await openReplica({ storage }));
    expect(upgraded.replicaId < relay.replica.replicaId).toBe(true);
    const us = upgraded.space('s');
    upgraded.connect(webSocketTransport(relay.url), { backoff, antiEntropyInterval: 100 });
    await until(async () => (await us.get('tagged'))?.value === 1, 'the tagged write at the upgraded reader', 10_000);
    expect((await us.get('plain'))?.value).toBe(2);
  });
});
