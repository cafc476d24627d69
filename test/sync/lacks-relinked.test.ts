/**
 * Review rev48a of LEFT (lib/sync/lacks.ts) under faults its tests did not walk: a lack must outlive what can end the
 * link that was told it, and be durable no later than the cursor that passes its key — else a later session resumes
 * past the key and the replica says 'synced' while it lacks it.
 *
 * - the app closes its link and opens another to the same peer (a token or URL change; a transport that does not
 *   reconnect, whose link closes itself): the lacks were forgotten, the new link resumed past the key — 'synced'.
 * - a power loss at any moment: the lack was written after the previous lack write was durable, while the join of
 *   the frames behind it (with the cursor past the key) went at once — a durable cursor past a key with no lack.
 * - two instances on one storage (tabs): the one that was told stored the lack; the other, opened before, took the
 *   links after it closed and resumed past the key with no lack read.
 * - a hostile peer naming a key with many thousand dots: every one was kept, in memory and in storage.
 */
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, pairTransports, type Link, type Replica, type Transport } from '../../lib/index.js';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { Lacks, MAX_LACK_DOTS } from '../../lib/sync/lacks.js';
import { cursorKey, readCursor } from '../../lib/sync/lineage.js';
import { MsgType, PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { FRAME, replica as opened, track } from '../review/narrow-links.js';
import { SimDisk } from '../support/sim-disk.js';
import { until } from './support.js';

const BIG = 'b'.repeat(30_000);
const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));
const timers = { setTimeout: (f: () => void, ms: number) => setTimeout(f, ms), clearTimeout: (h: unknown) => clearTimeout(h as NodeJS.Timeout) };
const tooLarge = (errors: unknown[]) => errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE').length;

/** A replica of this release (protocol 12: told what is left out), closed after the test. */
const replica = (storage: StorageAdapter = memoryStorage()): Promise<Replica> => opened(false, PROTOCOL_VERSIONS, storage);

/** A holder of "big" (over FRAME) and "small", logged in that order. */
async function holder(): Promise<Replica> {
  const h = await replica();
  await h.space('s').put('big', BIG);
  await h.space('s').put('small', 1);
  return h;
}

/** Links `a` and `b` over a narrow pair; `once`: the reader's transport does not reconnect (its link closes with the connection). */
function narrow(a: Replica, b: Replica, once = false): { pair: Link[]; drop: () => void } {
  const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
  let conn: { close(code: number, reason: string): void } | undefined;
  const tr: Transport = { ...(once ? { reconnect: false } : {}), open: async (h) => (conn = await tb.open(h)) };
  const pair = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tr, { antiEntropyInterval: 0 })];
  pair.forEach(track);
  return { pair, drop: () => conn?.close(1006, 'dropped') };
}

/** `reader` got small from `h` over a narrow link (its cursor passed big), and was told big is left out. */
async function passedBig(h: Replica, reader: Replica, errors: unknown[]): Promise<void> {
  await until(async () => (await reader.space('s').get('small')) !== undefined && tooLarge(errors) > 0, 'small, and big told left out');
  await settle();
  expect(reader.status).not.toBe('synced');
}

/** After a new session to the holder: told again (it asked for big), never 'synced' without big. */
async function stillLacks(reader: Replica, errors: unknown[], told: number): Promise<void> {
  await until(() => tooLarge(errors) > told, 'big told left out again (asked for it)');
  await settle();
  expect(await reader.space('s').get('big')).toBeUndefined();
  expect(reader.status, "'synced' without big").not.toBe('synced');
}

describe('a lack outlives what ends the link it was told on', () => {
  for (const how of ['closed by the app', 'on a transport that does not reconnect'] as const) {
    it(`a link ${how}, then another to the same peer: the lack counts again, and is asked for`, async () => {
      const h = await holder();
      const reader = await replica();
      const errors: unknown[] = [];
      reader.on('error', (e) => errors.push(e));
      const first = narrow(h, reader, how !== 'closed by the app');
      await passedBig(h, reader, errors);
      if (how === 'closed by the app') for (const l of first.pair) l.close();
      else {
        first.drop(); // the reader's link closes itself; the holder's dials on, the app links the reader again
        first.pair[0]!.close();
        await until(() => reader.status === 'offline', 'the reader has no link');
      }
      const told = tooLarge(errors);
      narrow(h, reader);
      await stillLacks(reader, errors, told);
    });
  }

  it('while no link runs to the peer, its lacks do not count: a link to another peer that holds all is synced', async () => {
    const h = await holder();
    const reader = await replica();
    const errors: unknown[] = [];
    reader.on('error', (e) => errors.push(e));
    const first = narrow(h, reader).pair;
    await passedBig(h, reader, errors);
    for (const l of first) l.close();
    const other = await replica(); // holds nothing: the reader lacks nothing from it
    const [ta, tb] = pairTransports();
    track(other.connect(ta, { antiEntropyInterval: 0 }));
    track(reader.connect(tb, { antiEntropyInterval: 0 }));
    await until(() => reader.status === 'synced', 'synced with the other peer');
  });

  it('a power loss at any moment: a durable cursor past a key left out has its lack durable too', async () => {
    // Three holders on narrow links at once: one's lack written while another's is still being made durable.
    const holders: Replica[] = [];
    for (let n = 0; n < 3; n++) {
      const h = await replica();
      holders.push(h);
      for (let i = 0; i < 4; i++) (await h.space('s').put(`big${n}.${i}`, BIG), await h.space('s').put(`small${n}.${i}`, i));
    }
    const disk = new SimDisk({ timers, fsyncDelay: () => 5 });
    const copies: SimDisk[] = []; // the durable state after every transaction: what a power loss then leaves
    const inst = disk.instance();
    const transact = inst.transact.bind(inst);
    (inst as StorageAdapter).transact = (fn) => transact(fn).then((r) => (copies.push(disk.copy()), r));
    const reader = await replica(inst);
    for (const h of holders) narrow(h, reader);
    await until(async () => {
      for (let n = 0; n < 3; n++) if ((await reader.space('s').get(`small${n}.3`)) === undefined) return false;
      return true;
    }, 'every small');
    await settle();
    const missing: string[] = [];
    for (const [at, c] of copies.entries()) {
      const lacks = (c.readMeta('lacks') ?? []) as Array<[string, string, string]>;
      for (const [n, h] of holders.entries()) {
        const cursor = readCursor(c.readMeta(cursorKey(h.replicaId, 's')));
        for (let i = 0; i < 4; i++) {
          const seq = (await h.core.storage.get('s', `big${n}.${i}`))!.seq;
          if (cursor && cursor.s >= seq && !lacks.some(([p, , k]) => p === h.replicaId && k === `big${n}.${i}`)) missing.push(`#${at} big${n}.${i}`);
        }
      }
    }
    expect(copies.length).toBeGreaterThan(10);
    expect(missing, 'durable states whose cursor passed a key with no lack stored').toEqual([]);
  });

  it('two instances on one storage: the one that takes the links reads the lacks the other stored', async () => {
    const h = await holder();
    const disk = new SimDisk({ timers });
    const told = await replica(disk.instance());
    const taker = await replica(disk.instance()); // opened before the lack: read none then
    const errors: unknown[] = [];
    told.on('error', (e) => errors.push(e));
    const first = narrow(h, told);
    await passedBig(h, told, errors);
    for (const l of first.pair) l.close();
    await told.close();
    const takerErrors: unknown[] = [];
    taker.on('error', (e) => takerErrors.push(e));
    narrow(h, taker);
    await stillLacks(taker, takerErrors, 0);
  });
});

describe('a hostile LEFT', () => {
  it('naming a key with many thousand dots: a bounded number kept, in memory and in storage', async () => {
    let stored: unknown;
    const store = { read: async () => undefined, update: async (edit: (v: unknown) => unknown) => void (stored = edit(stored)), get: async () => undefined };
    const lacks = new Lacks(() => NO_EPOCHS, () => {}, () => {}, store);
    await until(() => !lacks.any, 'read');
    const dots = Array.from({ length: 50_000 }, (_, i) => ({ r: `r${i % 7}`, e: '', n: i + 1 }));
    for (let k = 0; k < 3; k++) lacks.told('peer', { type: MsgType.Left, space: 's', keys: [[`k${k}`, dots]] }, true);
    expect(lacks.list().map(([, , , d]) => d.length)).toEqual([MAX_LACK_DOTS, MAX_LACK_DOTS, MAX_LACK_DOTS]);
    await until(() => Array.isArray(stored) && stored.length === 3, 'stored');
    expect(JSON.stringify(stored).length, 'stored bytes').toBeLessThan(3 * MAX_LACK_DOTS * 40);
  });
});
