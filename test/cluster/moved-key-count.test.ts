/**
 * A relay's replication count and a key that moved in its log (adapters/relay/cluster.ts). The relay counts a member
 * as holding a client's entry once the member acknowledged the relay's log at or past the seq the entry was stored
 * at. A change log holds each key once, at its newest record: when the key is written again at the relay (here by
 * another client) before the relay streamed that part of its log to the member, the member's acknowledgement past
 * the entry's seq says nothing of the key — the frame that reached past it did not carry it.
 *
 * Ordering, made deterministic by B's storage: while B commits nothing, A's streams to B fill their window (WINDOW
 * frames unacknowledged; WIDE_WINDOW of small frames between relays of protocol 12, fillers over TINY_FRAME), so A's later log — c1's write of k, a filler over the frame budget, c2's write of k on top
 * — waits in the log. Once B commits again (every transaction but one writing k), A reads that part of its log in one
 * page: k's record has moved to c2's seq, so the frame up to the filler carries no k, and k goes in the frame after,
 * which B cannot store. B acknowledged A's log past c1's entry; it holds no state of k. (Fails on the commit before
 * the relay counted per key: replicated(2) resolved there with B holding nothing of k.)
 *
 * The second case: counting per key must not starve a key saved faster than acknowledgements come back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Replica } from '../../lib/index.js';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { TINY_FRAME } from '../../lib/sync/ack-policy.js';
import { WIDE_WINDOW } from '../../lib/sync/outgoing.js';
import { gatedStorage } from './gated-storage.js';
import { aliveIds, client, closeAll, clusterRelay, SECRET, until } from './support.js';

const open: Array<Replica | Relay> = [];
let release = () => {};
afterAll(() => (release(), closeAll(...open)));

const token = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: '1h' });

const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('replication counts of a key that moved in the relay log', () => {
  it('w.replicated(2) does not resolve while the second relay holds no state of the key', async () => {
    const gated = gatedStorage('s', 'k');
    gated.set('open');
    // A small frame limit: a frame budget of a few KiB, which one filler value passes.
    const a = await clusterRelay({ maxPayload: 64 * 1024 });
    const b = await clusterRelay({ join: [a.url], storage: gated.storage, maxPayload: 64 * 1024 });
    open.push(a, b);
    // A failing check must not leave B's storage held (closing it would wait for the held commit).
    release = () => gated.set('open');
    await until(() => aliveIds(a).length === 2 && aliveIds(b).length === 2, 'two members');
    const c1 = await client(a, { token, learnRelays: false }, ['s']);
    const c2 = await client(a, { token, learnRelays: false }, ['s']);
    open.push(c1, c2);
    await (await c1.space('s').put('warm', 0)).synced;
    await until(async () => (await b.replica.space('s').get('warm'))?.value === 0, 'b streams from a');

    // B stores nothing: A's streams to it fill their windows with frames of small fillers (the wide window of small frames;
    // each filler over TINY_FRAME, whose frames a window of TINY_WINDOW takes: 136 of them would not fill it).
    gated.set('all');
    const filler = 'x'.repeat(TINY_FRAME);
    for (let i = 0; i < WIDE_WINDOW + 8; i++) await (await c1.space('s').put(`f${i}`, filler)).synced;
    const w = await c1.space('s').put('k', 'from c1');
    await w.synced;
    // Over the frame budget of either stream to B (a quarter of the frame limit, at most 256 KiB).
    for (let i = 0; i < 6; i++) await (await c1.space('s').put(`big${i}`, 'x'.repeat(50_000))).synced;
    await until(async () => (await c2.space('s').get('k'))?.value === 'from c1', 'c2 reads c1 write');
    await (await c2.space('s').put('k', 'from c2')).synced;

    let replicated = false;
    void w.replicated(2).then(() => (replicated = true));
    await settle(300);
    expect(replicated, 'B stored nothing yet').toBe(false);

    // B commits again, all but the transaction writing k.
    gated.set('key');
    await until(async () => (await b.replica.space('s').get('big5')) !== undefined, 'b stores the part of the log before k');
    await settle(1500);
    const atB = await b.replica.space('s').get('k');
    expect(atB, 'B holds no state of k').toBeUndefined();
    expect(replicated, 'replicated(2) must wait while B holds no state of k').toBe(false);

    // B stores k: now two relays hold the write (as c2's later state).
    gated.set('open');
    await until(() => replicated, 'replicated(2) resolves once B holds k', 10_000);
    expect((await b.replica.space('s').get('k'))?.value).toBe('from c2');
  }, 30_000);
});

describe('replication counts of a key saved faster than acknowledgements come back', () => {
  it('w.replicated(2) of its first save resolves while the saves go on', async () => {
    const a = await clusterRelay();
    const b = await clusterRelay({ join: [a.url] });
    open.push(a, b);
    await until(() => aliveIds(a).length === 2 && aliveIds(b).length === 2, 'two members');
    const c = await client(a, { token, learnRelays: false }, ['s']);
    open.push(c);
    await (await c.space('s').put('warm', 0)).synced;
    await until(async () => (await b.replica.space('s').get('warm'))?.value === 0, 'b streams from a');
    const first = await c.space('s').put('doc', 0);
    let replicated = false;
    void first.replicated(2).then(() => (replicated = true));
    // Every save moves the key's record on, at the client and at A, before the last one's acknowledgements come back.
    let saves = 0;
    while (!replicated && saves < 400) {
      await c.space('s').put('doc', ++saves);
      await settle(5);
    }
    expect(replicated, `replicated(2) of the first save, after ${saves} more`).toBe(true);
    expect(saves).toBeLessThan(400);
  }, 30_000);
});
