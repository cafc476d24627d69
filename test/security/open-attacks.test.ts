/**
 * Attacks of issue 11 whose fixes belong to the sync engine and the value codec, not to the relay adapter:
 * #2 amplification from a read-only client, #5 unauthenticated RESET, #8 malformed rich values stored
 * unchecked, #9 forged versions under another replica's id. Each test asserts the outcome the fix must
 * give. #2, #5 and #9 failed on the engine of issue 10's start and pass since its rework (repair window,
 * protocol 2 without RESET, restore detection from delivered dots); #8 still fails, so it is skipped
 * unless SECURITY_OPEN=1:
 *
 *   SECURITY_OPEN=1 npx vitest run test/security/open-attacks.test.ts
 *
 * Whoever lands the #8 fix removes its skip. The attack scripts are in attacks.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Delivery } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { buildCli, spawnRelay, type RelayProcess } from '../relay/child.js';
import { forgedVersion, malformedRichValue, relayMemory, rootRangeFlood, unauthenticatedReset, wantFlood } from './attacks.js';
import { client, closeAll, sleep, synced, tracker, until } from './support.js';

const open = process.env.SECURITY_OPEN === '1';
const t = tracker();
const children: RelayProcess[] = [];
let cleanup = async () => {};
afterAll(async () => {
  for (const c of children) c.child.kill('SIGKILL');
  await closeAll(...t.open);
  await cleanup();
});

let cli: Promise<string> | undefined;

/** A relay as a child process (clean memory figures), with a writer that filled `space`. */
async function relayProcessWith(space: string, keys: number, valueBytes: number): Promise<{ relay: RelayProcess; url: string; writer: Replica }> {
  cli ??= buildCli().then((built) => {
    cleanup = built.cleanup;
    return built.cli;
  });
  const relay = await spawnRelay(await cli, ['--port', '0', '--host', '127.0.0.1']);
  children.push(relay);
  const url = `ws://127.0.0.1:${relay.port}`;
  const writer = t.add(await openReplica({ storage: memoryStorage() }));
  writer.space(space);
  writer.connect(webSocketTransport(url), { backoff: { base: 20, max: 200 } });
  const blob = 'v'.repeat(valueBytes);
  for (let i = 0; i < keys; i++) await writer.space(space).put(`k${i}`, blob + i);
  await (await writer.space(space).put('done', true)).synced;
  return { relay, url, writer };
}

describe('engine attacks', () => {
  it('#2 a want list naming one key 5 000 times is answered once: relay memory stays bounded', async () => {
    const { relay, url, writer } = await relayProcessWith('big', 1, 16 * 1024);
    const before = await relayMemory(relay.port);
    // 5 000 wants of a 16 KB state: ~80 MB if duplicates are answered, all queued to a reader that reads nothing.
    await wantFlood(url, { space: 'big', key: 'k0', copies: 5000, paused: true });
    await sleep(1500);
    const during = await relayMemory(relay.port);
    console.log(`#2 want flood: relay rss ${before.rss.toFixed(0)} → ${during.rss.toFixed(0)} MiB, arrayBuffers ${before.arrayBuffers.toFixed(0)} → ${during.arrayBuffers.toFixed(0)} MiB`);
    // An honest write still syncs meanwhile.
    await (await writer.space('big').put('honest', 1)).synced;
    expect(during.rss - before.rss).toBeLessThan(32);
  }, 120_000);

  it('#2 tiny anti-entropy turns naming the tree root do not dump the whole space each: relay memory stays bounded', async () => {
    const { relay, url, writer } = await relayProcessWith('big', 200, 2 * 1024);
    const before = await relayMemory(relay.port);
    // 200 keys × 2 KB = 400 KB per root range; 200 frames of ~20 bytes, each a new run: ~80 MB if each is answered.
    await rootRangeFlood(url, { space: 'big', frames: 200, paused: true });
    await sleep(1500);
    const during = await relayMemory(relay.port);
    console.log(`#2 root-range flood: relay rss ${before.rss.toFixed(0)} → ${during.rss.toFixed(0)} MiB, arrayBuffers ${before.arrayBuffers.toFixed(0)} → ${during.arrayBuffers.toFixed(0)} MiB`);
    await (await writer.space('big').put('honest', 1)).synced;
    expect(during.rss - before.rss).toBeLessThan(32);
  }, 120_000);

  it('#5 a RESET before any hello does not make the relay re-identify', async () => {
    const relay = await t.relay();
    const id = relay.replica.replicaId;
    const epoch = relay.replica.core.epoch;
    await unauthenticatedReset(relay.url);
    expect(relay.replica.replicaId).toBe(id);
    expect(relay.replica.core.epoch).toBe(epoch);
  });

  it('#9 versions forged under a replica\'s id neither make it re-identify nor are taken for its own', async () => {
    const relay = await t.relay();
    const victim = t.add(await openReplica({ storage: memoryStorage() }));
    victim.space('s');
    const link = victim.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await (await victim.space('s').put('mine', 1)).synced;
    const id = victim.replicaId;
    await forgedVersion(relay.url, { space: 's', key: 'framed', victim: id, counter: 1_000_000 });
    await until(async () => (await victim.space('s').get('framed')) !== undefined, 'the forged version reached the victim');
    // The victim reconnects (as after any network change): it must stay who it is and keep syncing.
    link.close();
    victim.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await sleep(500);
    expect(victim.replicaId).toBe(id);
    await (await victim.space('s').put('still-mine', 2)).synced;
    expect(victim.replicaId).toBe(id);
  });
});

describe.skipIf(!open)('engine attacks, fix pending (SECURITY_OPEN=1 runs them)', () => {
  it('#8 a malformed rich value is refused on receipt; every reader keeps reading', async () => {
    const relay = await t.relay();
    const reader = t.add(await client(relay, {}, ['s']));
    await synced(reader);
    for (const [key, text] of [['bad-json', '~not json'], ['proto', '~{"json":{"__proto__":{"x":1}}}'], ['deep', '~' + '{"json":'.repeat(5000) + '1' + '}'.repeat(5000)]] as const) {
      await malformedRichValue(relay.url, { space: 's', key, text });
    }
    await sleep(500);
    for await (const e of reader.space('s').scan('')) expect(e.key).toBeTypeOf('string');
    for await (const e of relay.replica.space('s').scan('')) expect(e.key).toBeTypeOf('string');
    await expect(reader.space('s').get('bad-json')).resolves.toBeUndefined();
  });
});

describe('who delivered a version', () => {
  it('#9 the relay tells the app which session brought a version forged under another replica\'s id', async () => {
    const relay = await t.relay();
    const seen: Delivery[] = [];
    relay.on('delivery', (e) => seen.push(e));
    const victim = t.add(await openReplica({ storage: memoryStorage() }));
    victim.space('s');
    victim.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await (await victim.space('s').put('mine', 1)).synced;
    const forger = await forgedVersion(relay.url, { space: 's', key: 'framed', victim: victim.replicaId, counter: 1_000_000 });
    await until(() => seen.some((e) => e.key === 'framed'), 'the forged version was stored');
    const mine = seen.find((e) => e.key === 'mine')!;
    expect(mine.from.replicaId).toBe(victim.replicaId);
    expect(mine.versions.map((v) => v.replicaId)).toEqual([victim.replicaId]);
    const framed = seen.find((e) => e.key === 'framed')!;
    // The version claims to be the victim's; the delivery names the session that brought it.
    expect(framed.versions).toEqual([{ replicaId: victim.replicaId, counter: 1_000_000, deleted: false }]);
    expect(framed.from.replicaId).toBe(forger.replicaId);
    expect(framed.from.replicaId).not.toBe(victim.replicaId);
    expect(framed.from.relay).toBe(false);
  });
});
