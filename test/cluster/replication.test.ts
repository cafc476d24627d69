import { afterAll, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import type { MemberEvent } from '../../adapters/relay/cluster.js';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { aliveIds, client, closeAll, clusterRelay, dump, SECRET, until } from './support.js';

const open: Array<Replica | Relay> = [];
afterAll(() => closeAll(...open));

const token = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: '1h' });

describe('a relay cluster', () => {
  it('forms full membership from one seed and replicates a write through A to a client of C', async () => {
    const a = await clusterRelay();
    open.push(a);
    const b = await clusterRelay({ join: [a.url] });
    open.push(b);
    const c = await clusterRelay({ join: [a.url] });
    open.push(c);
    const ids = [a, b, c].map((r) => r.replica.replicaId).sort();
    await until(() => [a, b, c].every((r) => aliveIds(r).join() === ids.join()), 'every relay holds all three alive');

    const ca = await client(a, { token }, ['s']);
    const cc = await client(c, { token }, ['s']);
    open.push(ca, cc);
    const w = await ca.space('s').put('k', 'through a');
    await w.synced;
    await until(async () => (await cc.space('s').get('k'))?.value === 'through a', 'the write reaches the client of c');
    await until(async () => (await b.replica.space('s').get('k'))?.value === 'through a', 'and relay b');
    // A space only C's client writes to reaches the other relays too.
    await cc.space('t').put('x', 1);
    await until(async () => (await a.replica.space('t').get('x'))?.value === 1, 'space t reaches relay a');
    expect(await dump(b.replica, 's')).toEqual(await dump(a.replica, 's'));

    const listed = async () => ((await (await fetch(c.url.replace('ws:', 'http:') + '/cluster')).json()) as { relays: string[] }).relays;
    await until(async () => (await listed()).join() === [a.url, b.url, c.url].sort().join(), 'GET /cluster lists the three relays');
    // Under load a member can be suspected for a moment (and refutes it): wait for the calm state.
    await until(async () => /concord_relay_cluster_members\{state="alive"\} 3/.test(await b.metrics()), '/metrics shows three alive members');
  });

  it('five relays, each joining through the previous one, form a full mesh by gossip', async () => {
    const relays: Relay[] = [await clusterRelay()];
    for (let i = 1; i < 5; i++) relays.push(await clusterRelay({ join: [relays[i - 1]!.url] }));
    open.push(...relays);
    const ids = relays.map((r) => r.replica.replicaId).sort();
    await until(() => relays.every((r) => aliveIds(r).join() === ids.join()), 'every relay knows all five', 30_000);
    const first = await client(relays[0]!, { token, learnRelays: false }, ['m']);
    const last = await client(relays[4]!, { token, learnRelays: false }, ['m']);
    open.push(first, last);
    await (await last.space('m').put('from-last', 5)).synced;
    await (await first.space('m').put('from-first', 1)).synced;
    await until(async () => (await first.space('m').get('from-last'))?.value === 5 && (await last.space('m').get('from-first'))?.value === 1, 'writes cross the mesh');
    for (const r of relays) await until(async () => Object.keys(await dump(r.replica, 'm')).length === 2, 'every relay holds both');
  }, 60_000);

  it('refuses cluster messages without a relay token', async () => {
    const a = await clusterRelay();
    open.push(a);
    const url = a.url.replace('ws:', 'http:') + '/cluster';
    const body = JSON.stringify({ from: 'ws://127.0.0.1:1', msg: { type: 'gossip', src: 'x', updates: [] } });
    expect((await fetch(url, { method: 'POST', body })).status).toBe(401);
    const clientToken = `Bearer ${token}`;
    expect((await fetch(url, { method: 'POST', body, headers: { authorization: clientToken } })).status).toBe(401);
  });

  it('a relay that shuts down gracefully is marked left, and clients stop being offered it', async () => {
    const a = await clusterRelay();
    const b = await clusterRelay({ join: [a.url] });
    open.push(a, b);
    await until(() => aliveIds(a).length === 2 && aliveIds(b).length === 2, 'two members');
    const x = await openReplica({ storage: memoryStorage() });
    open.push(x);
    const t = webSocketTransport(a.url, { token });
    x.space('s');
    x.connect(t, { backoff: { base: 20, max: 200 } });
    await until(() => t.urls.length === 2, 'the client is offered both relays');
    const events: MemberEvent[] = [];
    a.on('member', (e) => events.push(e));
    await b.close();
    await until(() => events.some((e) => e.type === 'left' && e.id === b.replica.replicaId), 'a sees b leave');
    expect(events.some((e) => e.type === 'dead')).toBe(false);
    await until(() => t.urls[0] === a.url && !t.urls.includes(b.url), 'b is no longer offered');
  });

  it('a client given several URLs skips one that does not answer', async () => {
    const a = await clusterRelay();
    const dead = await clusterRelay();
    const deadUrl = dead.url;
    await dead.close();
    open.push(a);
    const x = await openReplica({ storage: memoryStorage() });
    open.push(x);
    const t = webSocketTransport([deadUrl, a.url], { token });
    x.connect(t, { backoff: { base: 20, max: 200 } });
    const w = await x.space('s').put('k', 1);
    await w.synced;
    expect(t.url).toBe(a.url);
    expect((await a.replica.space('s').get('k'))?.value).toBe(1);
  });
});
