/**
 * A relay's fan-out (issue 14, S7): one write goes live on every session of its space at once. What each session
 * does per delivery was cut down (outgoing.ts, conn-table.ts, peer-model.ts, codec.ts); these pin what it must keep
 * doing, and the one-microtask flush of every stream's live frame.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { openReplica, memoryStorage, type Replica, type Transport } from '../../lib/index.js';
import type { KeyRecord } from '../../lib/storage.js';
import { MsgType, type Changes, type Entry } from '../../lib/sync/messages.js';
import { TINY_FRAME } from '../../lib/sync/ack-policy.js';
import { LogStream, TINY_WINDOW, WIDE_WINDOW } from '../../lib/sync/outgoing.js';
import { heldDisk, releaseHeldDisks } from '../support/held-disk.js';
import { memoryRelay } from '../support/tab-group.js';
import { streamPort, synced, tapped, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  releaseHeldDisks();
  for (const r of open.splice(0)) await r.close();
});

const CLIENTS = 100;

async function fanOut(storage = memoryStorage(), transportOf?: (i: number, t: Transport) => Transport) {
  const relay = await openReplica({ storage });
  open.push(relay);
  const mem = memoryRelay(relay);
  const writer = await openReplica({ storage: memoryStorage() });
  open.push(writer);
  writer.space('s');
  writer.connect(mem.transport());
  const clients: Replica[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const c = await openReplica({ storage: memoryStorage() });
    open.push(c);
    c.space('s');
    c.connect(transportOf ? transportOf(i, mem.transport()) : mem.transport());
    clients.push(c);
  }
  return { relay, writer, clients };
}

const has = async (r: Replica, key: string) => (await r.space('s').get(key)) !== undefined;

describe('a relay fanning a write out to 100 clients', () => {
  it('streams only what it holds durably: the writer is synced, and the clients get it, once the relay fsynced', async () => {
    const d = heldDisk();
    const { relay, writer, clients } = await fanOut(d.disk.instance());
    await synced(writer, ...clients);
    d.holdFsyncs();
    const w = await writer.space('s').put('k', { n: 1 });
    let acked = false;
    void w.synced.then(() => (acked = true));
    await until(async () => has(relay, 'k'), 'the relay applied the write');
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 10));
    expect(acked).toBe(false);
    expect((await Promise.all(clients.map((c) => has(c, 'k')))).some(Boolean)).toBe(false);
    d.releaseFsyncs();
    await w.synced;
    await until(async () => (await Promise.all(clients.map((c) => has(c, 'k')))).every(Boolean), 'every client got it', 10_000);
    await synced(writer, ...clients);
  }, 30_000);

  // Frames to a client speaking 12: the relay's window for it is WIDE_WINDOW small ones, TINY_WINDOW tiny ones (ack-policy.ts).
  for (const [name, window, value] of [
    ['small', WIDE_WINDOW, (i: number) => `${i}`.padEnd(TINY_FRAME + 40, '.')],
    ['tiny', TINY_WINDOW, (i: number) => i],
  ] as const) {
    it(`a client that never acknowledges gets at most a window of ${name} frames and holds nobody back`, async () => {
      const mute = 7;
      let muted = 0;
      const { writer, clients } = await fanOut(memoryStorage(), (i, t) =>
        i === mute ? tapped(t, (frame, conn) => (frame instanceof Uint8Array && frame[0] === MsgType.Ack ? void muted++ : conn.send(frame))) : t,
      );
      const others = clients.filter((_, i) => i !== mute);
      await until(() => writer.status === 'synced' && others.every((c) => c.status === 'synced'), 'all but the mute client synced');
      const writes = window * 2;
      for (let i = 0; i < writes; i++) await (await writer.space('s').put(`k${i}`, value(i))).synced;
      await until(async () => (await Promise.all(others.map((c) => has(c, `k${writes - 1}`)))).every(Boolean), 'the others got every write', 10_000);
      const got = (await Promise.all(Array.from({ length: writes }, (_, i) => has(clients[mute]!, `k${i}`)))).filter(Boolean).length;
      // Its ACKs never reached the relay: the relay's window for it filled and the rest waits in the log.
      expect(muted).toBeGreaterThan(0);
      expect(got).toBeGreaterThan(0);
      expect(got).toBeLessThanOrEqual(window);
    }, 60_000);
  }
});

describe('the live frames of a tick', () => {
  const change = (key: string, seq: number) => {
    const rec = { seq, src: 'other', vs: [{ r: 'w', n: seq, t: seq, c: 0, v: '1' }], cc: { w: seq } } as unknown as KeyRecord;
    return { space: 's', key, rec } as never;
  };
  async function streams(n: number, broken = -1) {
    const frames: Array<Array<readonly Entry[]>> = [];
    const failed: unknown[] = [];
    const all: LogStream[] = [];
    for (let i = 0; i < n; i++) {
      const sent: Array<readonly Entry[]> = [];
      frames.push(sent);
      const send = (m: Changes) => {
        if (i === broken) throw new Error('send failed');
        sent.push(m.entries);
        return 0;
      };
      const port = { ...streamPort([], { readLog: async () => [], lastSeq: () => 0 }), send, fail: (e: unknown) => void failed.push(e) };
      const s = new LogStream('s', port, () => 0);
      s.start(0, 0);
      all.push(s);
    }
    await new Promise((r) => setTimeout(r, 0)); // the pumps found the log empty
    return { frames, all, failed };
  }

  it('every stream of the tick sends before any microtask queued after the first one', async () => {
    const { frames, all } = await streams(3);
    const c = change('k', 1);
    all[0]!.changed(c, 0);
    let seenByThen = -1;
    queueMicrotask(() => (seenByThen = frames.filter((f) => f.length > 0).length));
    all[1]!.changed(c, 0);
    all[2]!.changed(c, 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(frames.map((f) => f.length)).toEqual([1, 1, 1]);
    // One microtask flushed them all (a relay's fan-out queues one, not one per session).
    expect(seenByThen).toBe(3);
  });

  it('a stream whose frame fails to go fails its session; the others of the tick still send', async () => {
    const { frames, all, failed } = await streams(3, 0);
    for (const s of all) s.changed(change('k', 1), 0);
    await new Promise((r) => setTimeout(r, 0));
    expect(frames.map((f) => f.length)).toEqual([0, 1, 1]);
    expect(failed).toHaveLength(1);
  });

  it('a key changed twice in a tick goes once, at its newest state, in the order of the latest changes', async () => {
    const { frames, all } = await streams(1);
    const s = all[0]!;
    s.changed(change('a', 1), 0);
    s.changed(change('b', 2), 1);
    s.changed(change('a', 3), 2);
    await new Promise((r) => setTimeout(r, 0));
    s.changed(change('c', 4), 3);
    s.changed(change('c', 5), 4);
    await new Promise((r) => setTimeout(r, 0));
    const shape = frames[0]!.map((f) => f.map(([k, st]) => `${k}${st.vs[0]!.n}`));
    expect(shape).toEqual([['b2', 'a3'], ['c5']]);
  });
});
