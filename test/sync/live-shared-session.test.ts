/**
 * LIVE frames written once for a relay's links alike (live-shared.ts), through real sessions: a write a relay fans out
 * reaches its clients as one frame object, and every client holds what was written — also a client whose own
 * version the write's context names (its table names it by its seed: its frame is its own), and one that reconnected
 * (a new link, not alike with the others).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type ConnectionHandlers, type Replica, type Transport } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { relayWithWriter, synced, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** `inner`, recording the LIVE frames its client receives. */
function recording(inner: Transport, got: Uint8Array[]): Transport {
  const live = (f: unknown): f is Uint8Array => f instanceof Uint8Array && (f[0] === MsgType.Live || f[0] === MsgType.LiveCleared);
  return { ...inner, open: (h: ConnectionHandlers) => inner.open({ ...h, onMessage: (f) => (live(f) && got.push(f), h.onMessage(f)) }) };
}

async function setUp(clients: number) {
  const { relay, mem, writer } = await relayWithWriter('s', open);
  const got: Uint8Array[][] = [];
  const cs: Replica[] = [];
  const links: Array<{ close(): void }> = [];
  for (let i = 0; i < clients; i++) {
    const c = await openReplica({ storage: memoryStorage() });
    open.push(c);
    c.space('s');
    got.push([]);
    links.push(c.connect(recording(mem.transport(), got[i]!)));
    cs.push(c);
  }
  await synced(writer, ...cs);
  return { relay, mem, writer, clients: cs, got, links };
}

const value = async (r: Replica, key: string) => (await r.space('s').get(key))?.value;

async function write(writer: Replica, clients: readonly Replica[], key: string, v: unknown): Promise<void> {
  await (await writer.space('s').put(key, v)).synced;
  await until(async () => (await Promise.all(clients.map(async (c) => JSON.stringify(await value(c, key))))).every((x) => x === JSON.stringify(v)), `every client got ${key}`);
}

describe('a relay fanning a write out writes its LIVE frame once for links alike', () => {
  it('each write reaches the clients as one frame object; each client holds every write', async () => {
    // Fails where each link wrote its own LIVE frame (equal bytes, other objects).
    const { writer, clients, got } = await setUp(4);
    // The first write names the writer's epoch on each link (each link writes that frame): then the links are alike.
    await write(writer, clients, 'k0', 0);
    const from = got.map((g) => g.length);
    for (let i = 1; i <= 5; i++) await write(writer, clients, `k${i}`, { title: `item ${i}`, n: i });
    const after = got.map((g, c) => g.slice(from[c]));
    expect(after[0]).toHaveLength(5);
    for (const frames of after.slice(1)) {
      expect(frames).toHaveLength(5);
      frames.forEach((f, i) => expect(f).toBe(after[0]![i]));
    }
  }, 30_000);

  it("a write naming a client's own version goes to that client as its own frame; a reconnected client gets its own frames; all hold every write", async () => {
    const { relay, mem, writer, clients, got, links } = await setUp(3);
    await write(writer, clients, 'k0', 0);
    // Client 1 writes key x; the writer then overwrites it: the writer's state of x names client 1's version in its context.
    await (await clients[1]!.space('s').put('x', 'by client 1')).synced;
    await until(async () => (await value(writer, 'x')) === 'by client 1', 'the writer got x');
    const from = got.map((g) => g.length);
    await write(writer, clients, 'x', 'by the writer');
    const [f0, f1, f2] = got.map((g, c) => g[from[c]!]);
    expect(f2).toBe(f0);
    expect(f1).not.toBe(f0);
    // Client 2 reconnects: a new link, whose table starts empty. It still gets every write, in frames of its own.
    links[2]!.close();
    await until(() => mem.open === 3, 'client 2 disconnected');
    const again: Uint8Array[] = [];
    clients[2]!.connect(recording(mem.transport(), again));
    await synced(writer, ...clients);
    for (let i = 1; i <= 3; i++) await write(writer, clients, `k${i}`, i);
    expect(again.length).toBeGreaterThan(0);
    const tail = got[0]!.slice(-again.length);
    again.forEach((f, i) => expect(f).not.toBe(tail[i]));
    for (const c of clients) for (let i = 1; i <= 3; i++) expect(await value(c, `k${i}`)).toBe(i);
    expect(await value(relay, 'x')).toBe('by the writer');
  }, 30_000);
});
