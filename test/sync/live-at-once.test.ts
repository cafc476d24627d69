/**
 * A client joins a LIVE frame within the call that hands it over where its storage answers at once (session.ts,
 * inbox.ts) — attacked: a storage that answers late and then at once, listeners that write, read, close or hand over
 * the next frame during the delivery, and one replica with two sessions delivering the same writes. Order holds in
 * each: a frame waits behind every frame of its link before it, however those end.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type ChangeEvent, type Replica, type StorageAdapter } from '../../lib/index.js';
import { memoryRelay } from '../support/tab-group.js';
import { gated, heldWrites, lateOnce, relayedClient, type Frame } from './live-support.js';
import { synced, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

const setup = (storage?: StorageAdapter) => relayedClient(open, storage ? { storage } : {});

const keysOf = (events: readonly ChangeEvent[]) => events.map((e) => e.key);

describe('live frames joined at once', () => {
  it('frames arriving while a join waits on storage wait behind it, in order, though storage would answer them at once; then at once again', async () => {
    const late = lateOnce();
    const s = await setup(late.storage);
    await heldWrites(s, ['a', 'b', 'c']);
    s.events.length = 0;
    late.arm();
    s.gate.flush(); // a's join waits on storage; b and c come meanwhile
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(keysOf(s.events)).toEqual([]);
    expect(await late.storage.get('s', 'b')).toBeUndefined();
    late.answer();
    await until(() => s.events.length === 3, 'the three joined');
    expect(keysOf(s.events)).toEqual(['a', 'b', 'c']);
    // The queue drained: the next frame is joined within the call again.
    await heldWrites(s, ['d']);
    const before = s.events.length;
    s.gate.flush();
    expect(keysOf(s.events.slice(before))).toEqual(['d']);
    await synced(s.writer, s.client);
  });

  it('a frame handled within the call answers no promise (a socket counts nothing for it); frames that wait answer one, settled once handled', async () => {
    const late = lateOnce();
    const s = await setup(late.storage);
    await heldWrites(s, ['a', 'b', 'c']);
    late.arm();
    const hand = (frames: Frame[]) => frames.map((f) => s.gate.deliver(f) as unknown as Promise<void> | undefined);
    const waiting = hand(s.gate.held.splice(0));
    expect(waiting.length).toBeGreaterThanOrEqual(3);
    let settled = 0;
    for (const p of waiting) void p?.then(() => settled++);
    expect(waiting.every((p) => p instanceof Promise)).toBe(true); // the first waits on storage, the others behind it
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(settled).toBe(0);
    late.answer();
    await Promise.all(waiting);
    expect(settled).toBe(waiting.length);
    expect(keysOf(s.events)).toEqual(['a', 'b', 'c']);
    // Storage answers at once again: each frame is handled within its call, and says so by answering nothing.
    await heldWrites(s, ['d', 'e']);
    const before = s.events.length;
    const now = hand(s.gate.held.splice(0));
    expect(keysOf(s.events.slice(before))).toEqual(['d', 'e']);
    expect(now.length).toBeGreaterThanOrEqual(2);
    expect(now).toEqual(now.map(() => undefined));
    await synced(s.writer, s.client);
  });

  it('a listener that writes, reads, or hands the next frame over during the delivery: the next frame waits until this one ended', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const during: string[] = [];
    let read: Promise<unknown> | undefined;
    const off = s.client.space('s').subscribe('*', (e) => {
      if (e.key === 'a') {
        void s.client.space('s').put('echo', 1); // a local write from inside the delivery
        read = s.client.space('s').get('a').then((r) => r?.value);
        s.gate.next(); // b, handed over within a's delivery (a transport answering within the call)
        during.push(...keysOf(s.events.filter((x) => x.origin === 'remote')));
      }
    });
    s.events.length = 0;
    s.gate.next(); // a
    expect(during).toEqual(['a']); // b not joined inside a's listener
    await until(() => s.events.length >= 3, 'a, echo and b joined');
    expect(await read).toEqual({ k: 'a' });
    s.gate.flush(); // c
    off();
    expect(keysOf(s.events.filter((e) => e.origin === 'remote'))).toEqual(['a', 'b', 'c']);
    await until(async () => (await s.writer.space('s').get('echo')) !== undefined, 'the write made during the delivery reached the writer');
    await synced(s.writer, s.client);
  });

  it('a storage that throws at once: the session fails, the frames behind are not joined (no cursor past the failed one), the next session brings them', async () => {
    const inner = memoryStorage();
    let throwOnce = false;
    const storage = new Proxy(inner, {
      get(target, prop, receiver) {
        if (prop === 'transactNow' && throwOnce) {
          throwOnce = false;
          return () => {
            throw new Error('disk gone');
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
    const s = await setup(storage);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    await heldWrites(s, ['a', 'b', 'c']);
    throwOnce = true;
    s.gate.flush();
    expect(keysOf(s.events)).toEqual([]); // a failed; b and c, handed over in the same call, not joined
    expect(await storage.get('s', 'b')).toBeUndefined();
    expect(errors.map((e) => (e as Error).message)).toEqual(['disk gone']);
    await until(async () => (await storage.get('s', 'c')) !== undefined, 'the next session brought the writes', 10_000);
    expect(keysOf(s.events).sort()).toEqual(['a', 'b', 'c']);
    await synced(s.writer, s.client);
  });

  it('a listener that closes the replica during the delivery: the frames behind are not joined, nothing fails', async () => {
    const s = await setup();
    await heldWrites(s, ['a', 'b', 'c']);
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    let closing: Promise<void> | undefined;
    s.client.space('s').subscribe('a', () => void (closing = s.client.close()));
    s.events.length = 0;
    s.gate.flush();
    await closing;
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    expect(keysOf(s.events)).toEqual(['a']);
    expect(errors).toEqual([]);
  });

  it('one replica with two sessions (two relays) delivering the same writes: each joined once, in order, both links synced', async () => {
    const s = await setup();
    const relay2 = await openReplica({ storage: memoryStorage() });
    open.push(relay2);
    const mem2 = memoryRelay(relay2);
    const second = gated(mem2.transport());
    s.writer.connect(mem2.transport());
    s.client.connect(second.transport);
    await synced(s.writer, s.client);
    await until(async () => (await relay2.space('s').get('x')) === undefined, 'relay 2 up');
    s.gate.hold = second.gate.hold = true;
    for (const k of ['a', 'b', 'c']) await s.writer.space('s').put(k, { k });
    await until(async () => (await s.relay.space('s').get('c')) !== undefined && (await relay2.space('s').get('c')) !== undefined, 'both relays have the writes');
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    s.gate.hold = second.gate.hold = false;
    s.events.length = 0;
    // Interleaved: relay 2's first frame, then all of relay 1's, then the rest of relay 2's.
    second.gate.next();
    s.gate.flush();
    second.gate.flush();
    expect(keysOf(s.events)).toEqual(['a', 'b', 'c']);
    for (const k of ['a', 'b', 'c']) expect((await s.client.space('s').get(k))?.value).toEqual({ k });
    await synced(s.writer, s.client);
  });
});
