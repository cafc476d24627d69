/**
 * A relay's fan-out reaches the kernel after the links' work, not between it (adapters/relay/socket.ts writeCorked):
 * the frames written directly to client sockets in one turn are corked until its microtasks run, then written one
 * socket after another. What must hold: no socket's bytes go to the kernel while the fan-out is still being made;
 * every reader gets every frame, in order on its connection, mixed with frames that go through ws (over 65 535 bytes);
 * and nothing is left corked.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import { client, closeAll, startRelay, synced, until } from './support.js';

const open: Array<Relay | Replica> = [];
afterEach(async () => {
  await closeAll(...open.splice(0).reverse());
});

type Event = { kind: 'write' | 'kernel'; socket: net.Socket };

/**
 * Records, for the relay's sockets (local port `port`), each `write` call and each write handed to the kernel
 * (net.Socket's `_writeGeneric`, which both `_write` and `_writev` end in), in order.
 */
function tap(port: number): { events: Event[]; stop: () => void } {
  const events: Event[] = [];
  const proto = net.Socket.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  const write = proto.write!;
  const generic = proto._writeGeneric!;
  proto.write = function (this: net.Socket, ...a: unknown[]) {
    if (this.localPort === port) events.push({ kind: 'write', socket: this });
    return write.apply(this, a);
  };
  proto._writeGeneric = function (this: net.Socket, ...a: unknown[]) {
    if (this.localPort === port) events.push({ kind: 'kernel', socket: this });
    return generic.apply(this, a);
  };
  return {
    events,
    stop: () => {
      proto.write = write;
      proto._writeGeneric = generic;
    },
  };
}

describe("the relay's fan-out is corked until the turn's work is done", () => {
  it('every reader\'s frame is written before any goes to the kernel, and all arrive', async () => {
    const relay = await startRelay();
    open.push(relay);
    const port = Number(new URL(relay.url).port);
    const writer = await client(relay);
    const readers: Replica[] = [];
    for (let i = 0; i < 5; i++) readers.push(await client(relay));
    open.push(writer, ...readers);
    await synced(writer, ...readers);
    for (let round = 0; round < 3; round++) {
      const t = tap(port);
      try {
        await writer.space('s').put(`k${round}`, `v${round}`);
        await until(async () => {
          for (const r of readers) if ((await r.space('s').get(`k${round}`))?.value !== `v${round}`) return false;
          return true;
        }, `round ${round} reached every reader`);
      } finally {
        t.stop();
      }
      // The fan-out: five readers' frames written one after another with no kernel write between them (uncorked, each
      // socket's write went to the kernel at once: a write, then its kernel write, five times).
      let run = 0;
      let longest = 0;
      for (const e of t.events) longest = Math.max(longest, (run = e.kind === 'write' ? run + 1 : 0));
      expect(longest, `round ${round}: the longest run of writes before a kernel write`).toBeGreaterThanOrEqual(readers.length);
      // Every socket written went to the kernel after its writes, and none is left corked.
      const sockets = new Set(t.events.map((e) => e.socket));
      for (const socket of sockets) {
        const last = t.events.findLastIndex((e) => e.socket === socket && e.kind === 'write');
        expect(t.events.findLastIndex((e) => e.socket === socket && e.kind === 'kernel'), 'a write left unwritten').toBeGreaterThan(last);
        expect(socket.writableCorked, 'left corked').toBe(0);
      }
    }
  });

  it('frames through ws in the same turn keep their order behind corked ones', async () => {
    const relay = await startRelay();
    open.push(relay);
    const writer = await client(relay);
    const reader = await client(relay);
    open.push(writer, reader);
    await synced(writer, reader);
    const s = writer.space('s');
    const sizes = [5, 70_000, 12, 66_000, 300, 8];
    await Promise.all(sizes.map((n, i) => s.put(`k${i}`, 'w'.repeat(n))));
    for (const [i, n] of sizes.entries()) {
      await until(async () => (await reader.space('s').get(`k${i}`))?.value === 'w'.repeat(n), `k${i} arrived`, 10_000);
    }
  });
});
