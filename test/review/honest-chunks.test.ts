/**
 * The relay closes (1008) a connection whose frame comes in more than maxBufferedChunks(maxPayload) socket chunks
 * (adapters/relay/limits.ts: maxPayload / 256, at least 1 024). An honest sender's frame is split by TCP alone: over a
 * slow link the relay reads each segment as a chunk of its own, and the smallest segment an honest path carries is
 * IPv4's minimum MSS, 536 bytes, 524 of data beside Linux's TCP timestamps option. So a frame of maxPayload in 524-byte
 * chunks must be read whole, at every maxPayload: these fail if the bound is set below maxPayload / 524 chunks (or
 * counts chunks across frames); the bound keeps twice that room. The last one shows the bound is live in this reader:
 * the same frame in 128-byte chunks (no honest segment is that small) closes 1008.
 *
 * ws's Receiver is what the relay's WebSocketServer reads a socket with, given the options relay.ts gives it; fed here
 * chunk by chunk, the split is exact (over loopback TCP the reads coalesce as the machine's load decides).
 */
import type { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import * as ws from 'ws';
import { MAX_FRAGMENTS, maxBufferedChunks } from '../../adapters/ws/sockets.js';

/** ws exports its Receiver (a Writable fed the socket's chunks); its types (@types/ws) do not declare it. */
type ReceiverOptions = { isServer: boolean; maxPayload: number; maxBufferedChunks: number; maxFragments: number };
const { Receiver } = ws as unknown as { Receiver: new (options: ReceiverOptions) => Writable };

/** A client's (masked) binary frame of `n` bytes. */
function maskedFrame(n: number): Buffer {
  const head = n < 126 ? Buffer.from([0x82, 0x80 | n]) : n < 65_536 ? Buffer.from([0x82, 0x80 | 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65_536) (head[0] = 0x82), (head[1] = 0x80 | 127), head.writeBigUInt64BE(BigInt(n), 2);
  const mask = Buffer.from([1, 2, 3, 4]);
  const payload = Buffer.alloc(n);
  for (let i = 0; i < n; i++) payload[i] = (i & 0xff) ^ mask[i & 3]!;
  return Buffer.concat([head, mask, payload]);
}

/** Feeds `frame` to a relay's reader in chunks of `size` bytes: the message's length, or the close code of its error. */
async function read(maxPayload: number, frame: Buffer, size: number): Promise<{ length?: number; code?: number; chunks: number }> {
  const r = new Receiver({ isServer: true, maxPayload, maxBufferedChunks: maxBufferedChunks(maxPayload), maxFragments: MAX_FRAGMENTS });
  let length: number | undefined;
  let code: number | undefined;
  r.on('message', (data: Buffer) => (length = data.length));
  // ws keeps the close code it will send under a symbol of its own (kStatusCode).
  r.on('error', (e: Record<symbol, unknown>) => (code = Object.getOwnPropertySymbols(e).map((s) => e[s]).find((v): v is number => typeof v === 'number') ?? -1));
  let chunks = 0;
  for (let at = 0; at < frame.length && code === undefined; at += size) {
    chunks++;
    const ok = r.write(frame.subarray(at, at + size));
    if (!ok && !r.destroyed) await new Promise((res) => (r.once('drain', res), r.once('error', res), r.once('close', res)));
  }
  await new Promise((res) => setImmediate(res));
  return { ...(length !== undefined ? { length } : {}), ...(code !== undefined ? { code } : {}), chunks };
}

/** The smallest segment's data an honest TCP path delivers: IPv4's minimum MSS (536) less TCP timestamps (12). */
const SMALLEST_SEGMENT = 524;

describe("an honest frame split by TCP into the smallest segments", () => {
  for (const maxPayload of [4 << 20, 1 << 20, 300_000, 64 << 10, 4096]) {
    it(`a frame of maxPayload ${maxPayload} in ${SMALLEST_SEGMENT}-byte chunks is read whole`, async () => {
      const frame = maskedFrame(maxPayload);
      const got = await read(maxPayload, frame, SMALLEST_SEGMENT);
      expect(got.code, `closed after ${got.chunks} chunks (bound ${maxBufferedChunks(maxPayload)})`).toBeUndefined();
      expect(got.length).toBe(maxPayload);
    }, 60_000);
  }

  it('the bound is live: the 4 MiB frame in 128-byte chunks (no honest segment) closes 1008', async () => {
    const maxPayload = 4 << 20;
    const got = await read(maxPayload, maskedFrame(maxPayload), 128);
    expect(got.length).toBeUndefined();
    expect(got.code).toBe(1008);
    expect(got.chunks).toBe(maxBufferedChunks(maxPayload) + 1);
  }, 60_000);
});
