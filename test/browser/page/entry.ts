/**
 * What the browser tests' page exposes as `window.harness`: the storage contract suite (the same
 * test/storage/contract.ts, run by the vitest shim) on real IndexedDB, and small verbs over one replica
 * and one leadership per tab. The Node side drives them with page.evaluate.
 */
import { indexedDBStorage, type IndexedDBStorage } from '../../../adapters/indexeddb/index.js';
import { openReplica, type Replica } from '../../../lib/index.js';
import { runStorageContract } from '../../storage/contract.js';
import { runRegistered } from './vitest-shim.js';

let replica: Replica | undefined;
let storage: IndexedDBStorage | undefined;
let leaderStorage: IndexedDBStorage | undefined;
const seen: Array<{ space: string; key: string; origin: string }> = [];

function item(i: number) {
  return { title: `item ${i}`, done: i % 2 === 0, n: i };
}

function must<T>(v: T | undefined, what: string): T {
  if (v === undefined) throw new Error(`harness: ${what} first`);
  return v;
}

const harness = {
  async runContract() {
    let n = 0;
    const run = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
    runStorageContract('indexedDBStorage (Chromium)', async () => {
      const name = `contract-${run}-${++n}`;
      return {
        storage: indexedDBStorage(name),
        reopen: async () => indexedDBStorage(name),
        cleanup: async () => {
          await new Promise<void>((resolve) => {
            const req = indexedDB.deleteDatabase(name);
            req.onsuccess = req.onerror = req.onblocked = () => resolve();
          });
        },
      };
    });
    return runRegistered();
  },

  async open(db: string) {
    storage = indexedDBStorage(db);
    replica = await openReplica({ storage });
    return { replicaId: replica.replicaId, persisted: await storage.persisted };
  },

  subscribe(space: string) {
    must(replica, 'open').space(space).subscribe('*', (c) => seen.push({ space, key: c.key, origin: c.origin }));
  },

  seen: () => seen.slice(),

  async writeMany(space: string, prefix: string, from: number, count: number) {
    const sp = must(replica, 'open').space(space);
    await Promise.all(Array.from({ length: count }, (_, j) => sp.put(`${prefix}${from + j}`, item(from + j))));
  },

  async dump(space: string) {
    const out: Array<{ key: string; value: unknown; dots: string[] }> = [];
    for await (const r of must(replica, 'open').space(space).scan('')) {
      out.push({ key: r.key, value: r.value, dots: r.versions.map((v) => `${v.replicaId}:${v.counter}`) });
    }
    return out;
  },

  seq: () => must(storage, 'open').getMeta<number>('seq'),

  /** The replica's log epochs (lib/epochs.ts): one per open, unless another tab had it open. */
  epochs: () => must(replica, 'open').core.history.map(([e]) => e),

  async close() {
    await replica?.close();
    replica = undefined;
  },

  async lead(db: string) {
    leaderStorage = indexedDBStorage(db);
    await leaderStorage.open();
    leaderStorage.leadership();
  },

  isLeader: () => must(leaderStorage, 'lead').leadership().isLeader,

  /** Deletes a database from this tab (as another tab or the browser would), waiting while open connections close. */
  deleteDb(db: string) {
    return new Promise<string>((resolve) => {
      const req = indexedDB.deleteDatabase(db);
      req.onsuccess = () => resolve('deleted');
      req.onerror = () => resolve(`error: ${req.error?.name}`);
    });
  },

  /** A put whose failure is returned, not thrown: its ConcordError code, or 'ok' with the seq it minted. */
  async tryPut(space: string, key: string, value: unknown) {
    try {
      const r = await must(replica, 'open').space(space).put(key, value);
      return { ok: true, seq: r.seq };
    } catch (e) {
      return { ok: false, code: (e as { code?: string }).code, message: String((e as Error).message) };
    }
  },
};

(globalThis as { harness?: typeof harness }).harness = harness;
export type Harness = typeof harness;
