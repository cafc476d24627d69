import { afterAll, describe, expect, it } from 'vitest';
import type { Replica } from '../../lib/index.js';
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

    const metrics = await b.metrics();
    expect(metrics).toMatch(/concord_relay_cluster_members\{state="alive"\} 3/);
  });

  it('refuses cluster messages without a relay token', async () => {
    const a = await clusterRelay();
    open.push(a);
    const url = a.url.replace('ws:', 'http:') + '/cluster';
    const body = JSON.stringify({ from: 'ws://127.0.0.1:1', msg: { type: 'gossip', src: 'x', updates: [] } });
    expect((await fetch(url, { method: 'POST', body })).status).toBe(401);
    const clientToken = `Bearer ${token}`;
    expect((await fetch(url, { method: 'POST', body, headers: { authorization: clientToken } })).status).toBe(401);
  });
});
