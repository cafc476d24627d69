/**
 * A barrage of random and mutated frames (seeded: SEED=<n> replays) against a live relay, spread over many
 * connections, while well-behaved clients keep syncing. Mutations start from frames captured in a real
 * session (hello, sync, changes, acks, anti-entropy): flipped bytes, truncation, extension, splices, garbage.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Frame, type Replica, type Transport } from '../../lib/index.js';
import { client, closeAll, startRelay, synced, until } from './support.js';
import { rawPeer } from './raw.js';
import { prng } from '../../lib/check-merge.js';

const SEED = process.env.SEED ? Number(process.env.SEED) : (Date.now() % 1_000_000);
const TOTAL_FRAMES = 100_000;
const WORKERS = 32;


const open: Array<Relay | Replica> = [];
afterAll(() => closeAll(...open));

/** Frames a real client sends, captured on the way out. */
async function captureFrames(relay: Relay): Promise<Uint8Array[]> {
  const captured: Uint8Array[] = [];
  const capturing = (inner: Transport): Transport => ({
    ...inner,
    async open(h) {
      const conn = await inner.open(h);
      return {
        send: (f: Frame) => {
          if (f instanceof Uint8Array) captured.push(f.slice());
          conn.send(f);
        },
        close: (c, r) => conn.close(c, r),
        get bufferedAmount() {
          return conn.bufferedAmount;
        },
        ...(conn.maxFrameBytes ? { maxFrameBytes: conn.maxFrameBytes } : {}),
      };
    },
  });
  const a = await openReplica({ storage: memoryStorage() });
  const b = await openReplica({ storage: memoryStorage() });
  for (let i = 0; i < 40; i++) await a.space('fz').put(`k${i}`, { title: `item ${i}`, done: i % 2 === 0, n: i, at: new Date(0) });
  for (let i = 20; i < 60; i++) await b.space('fz').put(`k${i}`, [i, 'b']);
  await b.space('fz').delete('k30');
  const la = a.connect(capturing(webSocketTransport(relay.url)));
  await synced(a);
  const lb = b.connect(capturing(webSocketTransport(relay.url))); // both hold keys: anti-entropy
  await synced(a, b);
  la.close();
  lb.close();
  await a.close();
  await b.close();
  return captured;
}

function mutate(rand: () => number, frames: Uint8Array[]): Uint8Array | string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const r = rand();
  if (r < 0.05) return pick(['', 'hello', '{"type":1}', '\u0000\u0001']);
  if (r < 0.2) {
    const g = new Uint8Array(Math.floor(rand() * 200));
    for (let i = 0; i < g.length; i++) g[i] = Math.floor(rand() * 256);
    if (g.length && rand() < 0.5) g[0] = 1 + Math.floor(rand() * 8); // a plausible type byte
    return g;
  }
  const base = pick(frames);
  if (r < 0.3) return base;
  const f = new Uint8Array(base);
  const kind = rand();
  if (kind < 0.4) {
    const flips = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < flips && f.length; i++) f[Math.floor(rand() * f.length)] = Math.floor(rand() * 256);
    return f;
  }
  if (kind < 0.6) return f.slice(0, Math.floor(rand() * f.length));
  if (kind < 0.8) {
    const extra = new Uint8Array(1 + Math.floor(rand() * 64));
    for (let i = 0; i < extra.length; i++) extra[i] = rand() < 0.5 ? 0xff : Math.floor(rand() * 256);
    const out = new Uint8Array(f.length + extra.length);
    out.set(f);
    out.set(extra, f.length);
    return out;
  }
  const other = pick(frames);
  const cut = Math.floor(rand() * f.length);
  const out = new Uint8Array(cut + other.length - Math.min(cut, other.length));
  out.set(f.subarray(0, cut));
  out.set(other.subarray(Math.min(cut, other.length)), cut);
  return out;
}

describe('bad input against a live relay', () => {
  it(`survives ${TOTAL_FRAMES} random and mutated frames; other clients keep syncing (seed ${SEED})`, async () => {
    try {
      const relay = await startRelay();
      open.push(relay);
      const captured = await captureFrames(relay);
      expect(captured.length).toBeGreaterThan(5);
      const hellos = captured.filter((f) => f[0] === 1);

      const writer = await client(relay, {}, ['live']);
      const watcher = await client(relay, {}, ['live']);
      open.push(writer, watcher);
      await synced(writer, watcher);
      const before = process.memoryUsage();

      let stop = false;
      let wrote = 0;
      const goodTraffic = (async () => {
        while (!stop) {
          const w = await writer.space('live').put(`w${wrote}`, wrote);
          await w.synced;
          wrote++;
          await new Promise((r) => setTimeout(r, 10));
        }
      })();

      const rand = prng(SEED);
      let sent = 0;
      let connections = 0;
      const codes = new Map<number, number>();
      const worker = async () => {
        while (sent < TOTAL_FRAMES) {
          const peer = rawPeer(relay.url);
          connections++;
          try {
            await peer.opened;
          } catch {
            continue;
          }
          if (rand() < 0.6 && hellos.length) {
            peer.ws.send(hellos[Math.floor(rand() * hellos.length)]!);
            sent++;
          }
          const burst = 1 + Math.floor(rand() * 100);
          for (let i = 0; i < burst && peer.ws.readyState === peer.ws.OPEN; i++) {
            peer.ws.send(mutate(rand, captured));
            sent++;
          }
          const closed = await Promise.race([peer.closed, new Promise<undefined>((r) => setTimeout(r, 20))]);
          if (closed) codes.set(closed.code, (codes.get(closed.code) ?? 0) + 1);
          peer.ws.terminate();
        }
      };
      await Promise.all(Array.from({ length: WORKERS }, worker));
      stop = true;
      await goodTraffic;

      // Still alive and serving: the good clients' writes all arrived.
      expect((await fetch(`http://127.0.0.1:${relay.port}/livez`)).status).toBe(200);
      expect(wrote).toBeGreaterThan(0);
      await until(async () => (await watcher.space('live').get(`w${wrote - 1}`))?.value === wrote - 1, 'watcher has every write');
      await (await writer.space('live').put('after', true)).synced;
      await until(() => relay.connections === 2, 'fuzz connections all closed', 15_000);
      const after = process.memoryUsage();
      expect(after.heapUsed - before.heapUsed).toBeLessThan(256 * 1024 * 1024);
      expect(codes.get(4400) ?? 0).toBeGreaterThan(0);
      expect(codes.has(4500)).toBe(false); // no internal errors: every bad frame is a protocol error
      console.log(`fuzz: seed ${SEED}, ${sent} frames over ${connections} connections, closes ${JSON.stringify([...codes])}, good writes ${wrote}, heap +${Math.round((after.heapUsed - before.heapUsed) / 1e6)} MB`);
    } catch (e) {
      console.error(`fuzz failed with SEED=${SEED}`);
      throw e;
    }
  }, 120_000);
});
