/**
 * A relay's replication count and a log frame lost with its connection (adapters/relay/cluster.ts).
 *
 * The relay notes which watched keys each log frame to a member carried and, once the member acknowledges past the
 * frame, counts the member as holding those keys. An ACK answers the frames of its own stream only: a frame that went
 * on a connection that then dropped (a stalled member, a cut network) may never have been stored, and the next
 * session streams from the member's stored cursor — past that frame's seq without the key, when the key was written
 * again since (a log holds a key once, at its newest record). Its acknowledgement there says nothing of the key.
 *
 * Ordering: both relays reach each other through a proxy the test holds. While held, c1's write of k and six fillers
 * go to B on both links and stay in the proxies; c2 then writes k again (its record moves to the top of A's log). The
 * proxies drop their connections with what they held; the links reconnect and stream from B's cursor: the fillers
 * (stored and acknowledged past c1's entry), then k — which B's storage holds back. B holds no state of k, so A must
 * not report two relays holding c1's log up to its write of k.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { Replica } from '../../lib/index.js';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { gatedStorage } from './gated-storage.js';
import { aliveIds, client, closeAll, clusterRelay, SECRET, until } from './support.js';

const open: Array<Replica | Relay | { close(): void }> = [];
let release = () => {};
afterAll(() => (release(), closeAll(...open)));

const token = createToken(SECRET, { spaces: { '*': 'write' }, expiresIn: '1h' });
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A loopback TCP proxy to `target()`'s port: `hold` keeps what passes (both ways), `cut` drops it with every connection. */
async function holdingProxy(target: () => number) {
  let holding = false;
  const pairs = new Set<[Socket, Socket]>();
  const server: Server = createServer((down) => {
    const up = connect(target(), '127.0.0.1');
    const pair: [Socket, Socket] = [down, up];
    pairs.add(pair);
    const pass = (from: Socket, to: Socket) => from.on('data', (d: Buffer) => void (holding ? undefined : to.write(d)));
    pass(down, up);
    pass(up, down);
    const end = () => (pairs.delete(pair), down.destroy(), up.destroy());
    for (const s of pair) s.on('error', end).on('close', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `ws://127.0.0.1:${port}`,
    hold: () => void (holding = true),
    /** Every connection through it ends; what it held is gone. New connections pass again. */
    cut() {
      for (const [down, up] of pairs) (down.destroy(), up.destroy());
      pairs.clear();
      holding = false;
    },
    close() {
      this.cut();
      server.close();
    },
  };
}

describe('replication counts of a frame lost with its connection', () => {
  it('an acknowledgement on the next session does not count what the lost frame carried', async () => {
    const gated = gatedStorage('s', 'k');
    let aPort = 0;
    let bPort = 0;
    const pa = await holdingProxy(() => aPort);
    const pb = await holdingProxy(() => bPort);
    open.push(pa, pb);
    // A small frame limit: each filler is a frame of its own.
    const a = await clusterRelay({ maxPayload: 64 * 1024, publicUrl: pa.url });
    aPort = a.port;
    const b = await clusterRelay({ join: [pa.url], publicUrl: pb.url, storage: gated.storage, maxPayload: 64 * 1024 });
    bPort = b.port;
    open.push(a, b);
    release = () => gated.set('open');
    await until(() => aliveIds(a).length === 2 && aliveIds(b).length === 2, 'two members');
    // The clients reach A directly.
    const direct = `ws://127.0.0.1:${a.port}`;
    const c1 = await client(direct, { token, learnRelays: false }, ['s']);
    const c2 = await client(direct, { token, learnRelays: false }, ['s']);
    open.push(c1, c2);
    await (await c1.space('s').put('warm', 0)).synced;
    await until(async () => (await b.replica.space('s').get('warm'))?.value === 0, 'b streams from a');

    // Whatever A sends B now stays in the proxies.
    pa.hold();
    pb.hold();
    const w = await c1.space('s').put('k', 'from c1');
    await w.synced;
    for (let i = 0; i < 6; i++) await (await c1.space('s').put(`big${i}`, 'x'.repeat(50_000))).synced;
    await (await c2.space('s').put('k', 'from c2')).synced;
    await settle(100);
    expect(c1.core.acks.replicatedCount('s', w.seq), 'B holds nothing yet').toBeLessThan(2);

    // The connections drop with what they held; B stores all but the transaction writing k.
    gated.set('key');
    pa.cut();
    pb.cut();
    await until(async () => (await b.replica.space('s').get('big5')) !== undefined, 'b stores the fillers on the next session', 10_000);
    await settle(1000);
    expect(await b.replica.space('s').get('k'), 'B holds no state of k').toBeUndefined();
    expect(c1.core.acks.replicatedCount('s', w.seq), 'A reports two relays holding c1 log up to its write of k').toBeLessThan(2);

    // B stores k: now two relays hold it (as c2's later state, which superseded c1's: c2 read it from A).
    gated.set('open');
    await until(() => c1.core.acks.replicatedCount('s', w.seq) >= 2, 'two relays once B holds k', 10_000);
    expect((await b.replica.space('s').get('k'))?.value).toBe('from c2');
  }, 30_000);
});
