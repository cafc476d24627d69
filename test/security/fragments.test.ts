/**
 * A message ws has not read whole yet: its fragments (continuation frames) and, within a frame, the socket's chunks are
 * buffered, each some 135–185 bytes held however few bytes it brought. ws's defaults let one connection make the relay
 * hold 16 384 one-byte fragments (2.2 MiB for 112 KiB sent) and 262 144 chunks of one frame sent a byte a write
 * (~48 MiB for 262 KiB), 1 024 connections an address. The relay closes 1008 past MAX_FRAGMENTS fragments and past
 * maxBufferedChunks(maxPayload) chunks (adapters/ws/sockets.ts); a message split less finely still goes.
 */
import type { Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { randomId } from '../../lib/ids.js';
import { encodeMessage, MsgType } from '../../lib/sync/messages.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import { closeAll, sleep, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

async function open(url: string): Promise<{ ws: WebSocket; code: () => number; frames: () => number }> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  let code = 0;
  let frames = 0;
  ws.on('close', (c) => (code = c));
  ws.on('error', () => {});
  ws.on('message', () => frames++);
  await new Promise((r) => ws.once('open', r));
  t.add({ close: () => ws.terminate() });
  return { ws, code: () => code, frames: () => frames };
}

/** Sends `n` pieces (`piece(i)`) while the connection stays open; then its close code once closed (0: open after 10 s). */
async function closedAfter(c: { code: () => number }, n: number, piece: (i: number) => unknown): Promise<number> {
  for (let i = 0; i < n && c.code() === 0; i++) await piece(i);
  await until(() => c.code() !== 0, 'the relay closed the connection', 10_000).catch(() => {});
  return c.code();
}

/** The connection's TCP socket, writing each write at once. */
function socketOf(c: { ws: WebSocket }): Socket {
  const sock = (c.ws as unknown as { _socket: Socket })._socket;
  sock.setNoDelay(true);
  return sock;
}

/** Writes one byte as a write of its own (the relay reads it as a chunk of its own). */
const oneByte = (sock: Socket, b: number) => (sock.write(Buffer.from([b])), new Promise((r) => setImmediate(r)));

function hello(): Uint8Array {
  const epoch = randomId();
  return encodeMessage({ type: MsgType.Hello, versions: [...RAW_VERSIONS], replicaId: randomId(), epoch, top: 0, token: '', expect: '', history: [[epoch, 0]], spaces: [] });
}

describe('a message split into many pieces', () => {
  it('fragments: 2 000 of one byte close the connection (1008)', async () => {
    const relay = await t.relay();
    const c = await open(relay.url);
    const code = await closedAfter(c, 2000, (i) => (c.ws.send(Buffer.from([1]), { binary: true, fin: false }), i % 100 === 99 && sleep(1)));
    expect(code).toBe(1008);
  }, 30_000);

  it('one frame written a byte at a time: closed (1008) past its chunks', async () => {
    const relay = await t.relay();
    const c = await open(relay.url);
    const sock = socketOf(c);
    // A masked binary frame announcing 1 MiB, then its bytes one write each (up to 20 000 of them).
    const head = Buffer.alloc(14);
    head[0] = 0x82;
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(1 << 20), 2);
    sock.write(head);
    expect(await closedAfter(c, 20_000, () => oneByte(sock, 0))).toBe(1008);
  }, 60_000);

  it('a hello sent in one-byte fragments, or a byte a write, is answered', async () => {
    const relay = await t.relay();
    const a = await open(relay.url);
    const h = hello();
    for (let i = 0; i < h.length; i++) a.ws.send(h.subarray(i, i + 1), { binary: true, fin: i === h.length - 1 });
    await until(() => a.frames() > 0, "the relay's hello (fragments)");
    const b = await open(relay.url);
    const sock = socketOf(b);
    const g = hello();
    const head = Buffer.from([0x82, 0x80 | 126, g.length >> 8, g.length & 255, 0, 0, 0, 0]);
    if (g.length >= 126) sock.write(head);
    else sock.write(Buffer.from([0x82, 0x80 | g.length, 0, 0, 0, 0]));
    for (const byte of g) await oneByte(sock, byte);
    await until(() => b.frames() > 0, "the relay's hello (a byte a write)");
    expect(a.code() + b.code()).toBe(0);
  }, 30_000);
});
