/**
 * Issue 11 #4, clock poisoning: a client writes versions stamped 2^48 − 1 ms (the wire's limit). Every
 * replica used to adopt that timestamp; 65 536 writes later its next timestamp passed the limit, peers
 * refused its frames and its writes never synced again. Now the versions are stored and synced (they are
 * data), but no clock adopts a timestamp more than the allowed drift (60 s) ahead of its wall clock.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { client, closeAll, synced, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const LIMIT = 2 ** 48 - 1;

describe('clock poisoning (#4)', () => {
  it("a far-future version is kept and synced, but the victims' later writes carry sane timestamps and still sync", async () => {
    const relay = await t.relay();
    const attacker = t.add(await openReplica({ storage: memoryStorage(), now: () => LIMIT }));
    attacker.space('s');
    attacker.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await (await attacker.space('s').put('poison', 'from the year 10889')).synced;

    const victim = t.add(await client(relay));
    const witness = t.add(await client(relay));
    await until(async () => (await victim.space('s').get('poison')) !== undefined, 'the victim holds the poisoned version');
    expect((await victim.space('s').get('poison'))!.versions[0]!.hlc.ms).toBe(LIMIT);

    // The victim keeps writing: its timestamps follow its own clock, and its writes reach the others.
    const before = Date.now();
    for (let i = 0; i < 20; i++) await victim.space('s').put(`after-${i}`, i);
    await (await victim.space('s').put('last', 'synced')).synced;
    for (const key of ['after-0', 'after-19', 'last']) {
      const ms = (await victim.space('s').get(key))!.versions[0]!.hlc.ms;
      expect(ms, key).toBeGreaterThanOrEqual(before - 1000);
      expect(ms, key).toBeLessThanOrEqual(Date.now() + 60_000);
    }
    await synced(victim, witness);
    await until(async () => (await witness.space('s').get('last'))?.value === 'synced', 'the witness got the later write');
    // Neither the relay's clock nor the victim's adopted the poisoned timestamp.
    expect(relay.replica.core.clock.tick().ms).toBeLessThanOrEqual(Date.now() + 60_000);
    expect(victim.core.clock.ignored).toBeGreaterThan(0);
  });
});
