/**
 * The relay writes a binary frame to its socket as one WebSocket frame made once (adapters/relay/socket.ts wholeFrame),
 * not through ws's sender, which framed the same fan-out frame anew on every link: a header buffer, then the bytes,
 * corked into a writev. Each write to a served socket now holds whole frames; the clients read every value as written,
 * at every length form (7-bit, 16-bit, and past 65 535 bytes: through ws), text frames keep going through ws, and the
 * order of frames on a connection is kept whichever way each went.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { Relay } from '../../adapters/relay/index.js';
import type { Replica } from '../../lib/index.js';
import { client, closeAll, startRelay, synced, until } from './support.js';

const open: Array<Relay | Replica> = [];
afterEach(async () => {
  await closeAll(...open.splice(0).reverse());
});

/** Waits until `r` reads `value` at `key` (bounded). */
const arrives = (r: Replica, key: string, value: string) =>
  until(async () => (await r.space('s').get(key))?.value === value, `${key} (${value.length} characters) arrived`, 10_000);

/** Every chunk written to each socket whose local port is `port` (the relay's side of its connections), in order. */
function tapServerWrites(port: number): { chunks: Map<net.Socket, Buffer[]>; stop: () => void } {
  const chunks = new Map<net.Socket, Buffer[]>();
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (this: net.Socket, chunk: unknown, ...rest: unknown[]) {
    if (this.localPort === port && Buffer.isBuffer(chunk)) {
      if (!chunks.has(this)) chunks.set(this, []);
      chunks.get(this)!.push(Buffer.from(chunk));
    }
    return (write as (...a: unknown[]) => boolean).call(this, chunk, ...rest);
  } as typeof write;
  return { chunks, stop: () => void (net.Socket.prototype.write = write) };
}

/**
 * The WebSocket frames (a server's: unmasked) in one socket's chunks, checking that each chunk ends on a frame's end —
 * but for a frame over 65 535 bytes, whose header may be a chunk of its own before its bytes (ws's sender).
 */
function framesOf(chunks: Buffer[]): Array<{ opcode: number; payload: Buffer }> {
  const out: Array<{ opcode: number; payload: Buffer }> = [];
  for (let c = 0; c < chunks.length; c++) {
    let chunk = chunks[c]!;
    let at = 0;
    while (at < chunk.length) {
      expect(chunk.length - at).toBeGreaterThanOrEqual(2);
      const opcode = chunk[at]! & 0x0f;
      expect(chunk[at + 1]! & 0x80).toBe(0); // a server's frames are not masked
      let n = chunk[at + 1]! & 0x7f;
      let head = 2;
      if (n === 126) {
        n = chunk.readUInt16BE(at + 2);
        head = 4;
      } else if (n === 127) {
        n = Number(chunk.readBigUInt64BE(at + 2));
        head = 10;
      }
      if (at + head + n > chunk.length) {
        // Only a long frame's header goes alone, its bytes in the next chunk.
        expect({ n, headerAlone: at + head === chunk.length }).toEqual({ n: expect.any(Number), headerAlone: true });
        expect(n).toBeGreaterThan(0xffff);
        chunk = Buffer.concat([chunk, chunks[++c]!]);
      }
      out.push({ opcode, payload: chunk.subarray(at + head, at + head + n) });
      at += head + n;
    }
  }
  return out;
}

describe('the relay writes whole WebSocket frames', () => {
  it('each write to a client socket holds whole frames; small, 16-bit and long values all arrive', async () => {
    const relay = await startRelay();
    open.push(relay);
    const port = Number(new URL(relay.url).port);
    const writer = await client(relay);
    const readers = [await client(relay), await client(relay), await client(relay)];
    open.push(writer, ...readers);
    await synced(writer, ...readers);
    const tap = tapServerWrites(port);
    const values: Record<string, string> = { small: 'x', mid: 'm'.repeat(300), edge: 'e'.repeat(65_400), long: 'l'.repeat(70_000) };
    try {
      for (const [k, v] of Object.entries(values)) await writer.space('s').put(k, v);
      for (const r of readers) for (const [k, v] of Object.entries(values)) await arrives(r, k, v);
    } finally {
      tap.stop();
    }
    // Every chunk the relay wrote ends on a frame's end (ws's sender wrote a header alone, then the bytes).
    const frames = [...tap.chunks.values()].flatMap(framesOf);
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.some((f) => f.payload.length > 0xffff)).toBe(true); // the long value went, through ws
    // The fan-out of the small write: one frame holding the key, the same bytes on each reader's socket.
    const smalls = frames.filter((f) => f.opcode === 2 && f.payload.includes(Buffer.from('small')) && f.payload.length < 126);
    expect(smalls.length).toBeGreaterThanOrEqual(readers.length);
  });

  it('frames keep their order on a connection whichever way each went, text included', async () => {
    const relay = await startRelay();
    open.push(relay);
    const writer = await client(relay);
    const reader = await client(relay);
    open.push(writer, reader);
    await synced(writer, reader);
    const s = writer.space('s');
    const sizes = [10, 200, 70_000, 20, 65_535, 90_000, 5, 300];
    for (let round = 0; round < 3; round++) {
      await Promise.all(sizes.map((n, i) => s.put(`k${i}`, `${round}:${'v'.repeat(n)}`)));
    }
    for (const [i, n] of sizes.entries()) await arrives(reader, `k${i}`, `2:${'v'.repeat(n)}`);
    // A text frame from a client is refused as before (the relay closes the connection), through ws.
    const raw = new WebSocket(relay.url);
    await new Promise((r) => raw.once('open', r));
    const closed = new Promise<number>((r) => raw.once('close', (code) => r(code)));
    raw.send('not a frame');
    expect(await closed).toBeGreaterThanOrEqual(1000);
    await until(() => reader.status === 'synced', 'reader still synced');
  });
});
