/**
 * rev47d: a frame held back behind a withhold (WITHHELD, wire.ts `hold`) whose send throws when its gate opens. The
 * frames a link holds were encoded, and their connection table committed, when they were made: each LIVE frame's
 * strings are the table's from then on. A held send that threw was reported and the frames behind it went on, so the
 * peer got a frame naming strings of the lost one by index — "unknown connection string index", and its link closed
 * (the live-shared differential's SEED=103 failure under load: client 4 or 5, of protocol 10, is held behind tagged
 * keys it cannot carry, and the relay's send to it throws now and then). A held send that throws now fails the session,
 * as a send that throws at once does: nothing behind it goes, and the link comes back with new tables.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Connection, type ConnectionHandlers, type StorageAdapter, type StorageTx, type Transport } from '../../lib/index.js';
import { until } from '../sync/support.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { FRAME, replica, track } from './narrow-links.js';

/** Memory storage whose transactions storing the withheld keys answer once `release` was called. */
function slowWithholds(): { storage: StorageAdapter; release(): void; stored(): boolean } {
  const inner = memoryStorage();
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let stored = false;
  const transact: StorageAdapter['transact'] = (fn) => {
    let withheld = false;
    const out = inner.transact((tx) => fn({ ...tx, get: tx.get.bind(tx), put: tx.put.bind(tx), remove: tx.remove.bind(tx), getMeta: tx.getMeta.bind(tx), setMeta: (name, value) => ((withheld ||= name === 'withheld'), tx.setMeta(name, value)) } as StorageTx));
    return out.then((v) => (withheld ? ((stored = true), gate.then(() => v)) : v));
  };
  const storage = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'transact') return transact;
      if (prop === 'transactNow') return undefined;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, release: () => release(), stored: () => stored };
}

/** `inner`, whose connection's `send` throws at the `n`-th call counted from `arm` (the socket went away), and the close reasons seen. */
function throwing(inner: Transport): { transport: Transport; arm(n: number): void; closes: string[] } {
  let count = 0;
  let at = -1;
  const closes: string[] = [];
  const transport: Transport = {
    ...inner,
    label: 'throwing',
    async open(handlers: ConnectionHandlers): Promise<Connection> {
      const conn = await inner.open({ ...handlers, onMessage: (f) => handlers.onMessage(f), onClose: (code, reason) => (closes.push(`${code} ${reason}`), handlers.onClose(code, reason)) });
      return {
        ...conn,
        send(f) {
          if (++count === at) throw new Error('the socket went away (test)');
          conn.send(f);
        },
        close: (code, reason) => conn.close(code, reason),
      };
    },
  };
  return { transport, arm: (n) => void (at = count + n), closes };
}

describe('a held frame whose send throws', () => {
  it('fails its session: no frame behind it reaches the peer, whose table would lack the lost frame\'s strings', async () => {
    const disk = slowWithholds();
    const writer = await openReplica({ storage: disk.storage, maxValueBytes: 64 * 1024, speaks: SPEAKS_10 });
    const errors: string[] = [];
    writer.on('error', (e) => errors.push((e as Error).message));
    const s = writer.space('s');
    const old = await replica(true); // takes no key in parts: big cannot cross the narrow link
    const [tw, to] = pairTransports({ maxFrameBytes: FRAME });
    const w = throwing(tw);
    track(old.connect(to, { antiEntropyInterval: 0, backoff: { base: 10, max: 50 } }));
    track(writer.connect(w.transport, { antiEntropyInterval: 0 }));
    await until(() => writer.status === 'synced' && old.status === 'synced', 'linked');

    // big is left out: its frame, and every one after it, wait for the withhold's store (held back here).
    await s.put('big', 'x'.repeat(30 * 1024));
    await until(disk.stored, 'the withhold being stored');
    // Two LIVE frames held behind it: the first adds 'fresh' to the link's table, the second names it by index.
    await s.put('fresh', 1);
    await new Promise((r) => setTimeout(r, 5));
    await s.put('fresh', 2);
    await new Promise((r) => setTimeout(r, 5));
    // The held frames go at the gate: big's (its context alone), then fresh's first, whose send throws.
    w.arm(2);
    disk.release();
    await until(() => errors.some((m) => /socket went away/.test(m)), 'the held send threw');
    await new Promise((r) => setTimeout(r, 50));
    expect(w.closes.filter((c) => /string index/.test(c)), 'the peer decoded every frame it got').toEqual([]);
    expect(w.closes.length, 'the link whose send threw closed').toBeGreaterThan(0);
    // The link comes back (new tables) and the peer gets fresh's last value.
    await until(async () => (await old.space('s').get('fresh'))?.value === 2, 'fresh at the peer');
    expect(w.closes.filter((c) => /string index/.test(c))).toEqual([]);
  });
});
