/**
 * What may happen to a socket while the relay holds its fan-out corked (adapters/relay/socket.ts writeCorked), in the
 * same turn as the corked write: a close frame (ws.close, what a session's close ends in), a ping, the socket
 * terminated (heartbeat timeout, shutdown's grace) or destroyed with an error (a peer's reset). What must hold: a close
 * frame and a ping go behind the frame corked before them (the peer reads the frame, then the close code); a socket
 * dropped while corked breaks nothing else — the fan-out's other readers get the frame, the relay sees the close, and no
 * socket is left corked. Also: a fan-out's corked bytes (bufferedAmount reads them) never make a reader that keeps up a
 * slow consumer.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { Relay } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import { helloFrame, item, rawPeer, type RawPeer } from './raw.js';
import { client, closeAll, startRelay, synced, until } from './support.js';

const open: Array<Relay | Replica | { close(): void }> = [];
afterEach(async () => {
  await closeAll(...open.splice(0).reverse());
});

/** The ws WebSocket a net socket carries (ws keeps it under its own symbol). */
function wsOf(socket: net.Socket): WebSocket {
  const key = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'websocket')!;
  return (socket as unknown as Record<symbol, WebSocket>)[key]!;
}

/** Whether `chunk` is one whole binary WebSocket frame of a server (what writeCorked writes; ws writes a header alone). */
function wholeBinary(chunk: unknown): boolean {
  if (!Buffer.isBuffer(chunk) || chunk.length < 2 || chunk[0] !== 0x82) return false;
  const n = chunk[1]! & 0x7f;
  return n < 126 ? chunk.length === 2 + n : n === 126 && chunk.length === 4 + chunk.readUInt16BE(2);
}

/**
 * Runs `act` on the relay's socket to the peer at `remotePort` right after the first whole frame holding `text` written
 * to it while corked, in the same turn; records every relay socket written (local port `port`).
 */
function onCorkedWrite(port: number, remotePort: number, text: string, act: (socket: net.Socket) => void): { acted: () => boolean; sockets: Set<net.Socket>; stop: () => void } {
  const write = net.Socket.prototype.write;
  const sockets = new Set<net.Socket>();
  let acted = false;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    const out = (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
    if (this.localPort === port) sockets.add(this);
    if (!acted && this.localPort === port && this.remotePort === remotePort && this.writableCorked > 0 && wholeBinary(chunk) && (chunk as Buffer).includes(text)) {
      acted = true;
      act(this);
    }
    return out;
  } as typeof write;
  return { acted: () => acted, sockets, stop: () => void (net.Socket.prototype.write = write) };
}

/** A relay, a writer, two replica readers and a raw peer syncing space `s` (its frames kept, its close code told). */
async function setup(options: Parameters<typeof startRelay>[0] = {}) {
  const relay = await startRelay(options);
  open.push(relay);
  const port = Number(new URL(relay.url).port);
  const writer = await client(relay);
  const readers = [await client(relay), await client(relay)];
  open.push(writer, ...readers);
  await synced(writer, ...readers);
  const peer: RawPeer = rawPeer(relay.url);
  open.push({ close: () => peer.ws.terminate() });
  await peer.opened;
  peer.ws.send(helloFrame('', [item('s')]));
  await writer.space('s').put('warm', 'up');
  await until(async () => peer.frames.some((f) => Buffer.from(f).includes('warm')), 'the raw peer streams space s');
  return { relay, port, writer, readers, peer, remotePort: (peer.ws as unknown as { _socket: net.Socket })._socket.localPort! };
}

const holds = (f: Uint8Array, text: string) => Buffer.from(f).includes(text);

describe('a socket acted on while the relay holds its fan-out corked', () => {
  it('a close frame in the same turn goes behind the corked frame: the peer reads the frame, then 1001', async () => {
    const { port, writer, peer, remotePort } = await setup();
    const tap = onCorkedWrite(port, remotePort, 'before-close', (s) => wsOf(s).close(1001, 'relay shutting down'));
    try {
      await writer.space('s').put('before-close', 'v');
      const closed = await peer.closed;
      expect(tap.acted(), 'the close ran inside the corked turn').toBe(true);
      expect(closed.code).toBe(1001);
      expect(peer.frames.some((f) => holds(f, 'before-close')), 'the frame corked before the close frame was read').toBe(true);
    } finally {
      tap.stop();
    }
  });

  it('a ping in the same turn goes behind the corked frame, and the link goes on', async () => {
    const { port, writer, peer, remotePort } = await setup();
    let pongs = 0;
    const tap = onCorkedWrite(port, remotePort, 'before-ping', (s) => {
      wsOf(s).once('pong', () => pongs++);
      wsOf(s).ping();
    });
    try {
      await writer.space('s').put('before-ping', 'v');
      await until(async () => peer.frames.some((f) => holds(f, 'before-ping')) && pongs === 1, 'frame and pong');
      await writer.space('s').put('after-ping', 'v');
      await until(async () => peer.frames.some((f) => holds(f, 'after-ping')), 'the next frame');
      expect(tap.acted()).toBe(true);
    } finally {
      tap.stop();
    }
  });

  for (const how of ['terminate', 'destroy with an error'] as const) {
    it(`a socket dropped in the same turn (${how}): the other readers get the frame, nothing stays corked`, async () => {
      const { relay, port, writer, readers, peer, remotePort } = await setup();
      const before = relay.connections;
      const tap = onCorkedWrite(port, remotePort, 'dropped', (s) => (how === 'terminate' ? wsOf(s).terminate() : s.destroy(new Error('reset by peer (test)'))));
      try {
        await writer.space('s').put('dropped', 'v');
        for (const r of readers) await until(async () => (await r.space('s').get('dropped'))?.value === 'v', 'a reader got the frame');
        expect((await peer.closed).code).toBe(1006);
        await until(async () => relay.connections === before - 1, 'the relay saw the socket close');
        expect(tap.acted()).toBe(true);
        await new Promise((r) => setImmediate(r));
        for (const s of tap.sockets) expect(s.writableCorked, 'a relay socket left corked').toBe(0);
        // The relay goes on serving the rest.
        await writer.space('s').put('after', 'v');
        for (const r of readers) await until(async () => (await r.space('s').get('after'))?.value === 'v', 'a reader got the next frame');
      } finally {
        tap.stop();
      }
    });
  }

  it('corked bytes over highWaterBytes do not make a reader that keeps up a slow consumer', async () => {
    // Each fan-out frame (~3 KB) is over highWaterBytes while corked; the sweep (every 50 ms) runs after the uncork.
    const { relay, writer, readers } = await setup({ highWaterBytes: 1000, slowConsumerMs: 100 });
    const before = relay.connections;
    const value = 'x'.repeat(3000);
    for (let i = 0; i < 30; i++) {
      await writer.space('s').put(`big${i}`, value);
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const r of readers) await until(async () => (await r.space('s').get('big29'))?.value === value, 'a reader got the last');
    await new Promise((r) => setTimeout(r, 250));
    expect(relay.connections, 'none closed as slow').toBe(before);
    expect(await relay.metrics()).not.toMatch(/code="4430"/);
  });
});
