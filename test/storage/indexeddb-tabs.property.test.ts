/**
 * Tabs sharing one IndexedDB database, checked against a model under the faults a browser delivers: several
 * `indexedDBStorage` instances (tabs) on one fake-indexeddb factory run group commits (puts chained onto the record
 * before, whole puts and removals, sequence minted from meta 'seq' as a replica does), reads (get, scan, readLog) and
 * folds, at once; a random tab is stopped dead at a random IndexedDB request (its transactions aborted, its connection
 * closed, its JS no longer running: its callbacks throw, it never connects to the database again), and the browser
 * aborts a random transaction of a live tab at a random request (QuotaExceededError, a transaction that dies). Small
 * fold thresholds, so folds run before commits, between them and in several tabs at once, and interrupted folds leave
 * batches piling up for the others.
 *
 * Checked: every write acknowledged to a live tab is there (or a later write of its key is), and no write whose
 * transact() was rejected in a live tab ever shows; every record read is exactly the one written with its seq; each
 * tab's reads of a key never go back to an older seq than it was shown (or acknowledged); no seq is minted twice; a
 * tab opened at the end reads the same state by get, scan, readLog and index, before and after folding it all.
 * Half the runs start from records the version 2 layout (an earlier release) stored. Seeded: SEED=<n> replays one (the seeds run are printed); bounded in steps and time.
 */
import 'fake-indexeddb/auto';
import { forceCloseDatabase, IDBFactory, IDBIndex as FakeIndex, IDBObjectStore as FakeStore } from 'fake-indexeddb';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { indexedDBStorage, type IndexedDBStorage } from '../../adapters/indexeddb/index.js';
import { prng } from '../../lib/check-merge.js';
import { loadHasher } from '../../lib/hash.js';
import type { KeyRecord, StorageTx } from '../../lib/storage.js';
import { storeLayout } from '../support/idb-fake.js';

beforeAll(loadHasher);

const SPACE = 'sp';
const KEYS = Array.from({ length: 14 }, (_, i) => `k${i.toString().padStart(2, '0')}`);

interface Tab {
  id: number;
  s: IndexedDBStorage;
  dead: boolean;
  /** Connections this tab opened on the shared factory. */
  conns: IDBDatabase[];
  /** Highest seq this tab was shown (or acknowledged) per key. */
  seen: Map<string, number>;
}

/** A write as its callback made it: the record (undefined: a removal) under the seq it minted. */
interface Written {
  key: string;
  seq: number;
  rec: KeyRecord | undefined;
  tab: number;
}

type Patch = () => void;
const patches: Patch[] = [];
afterEach(() => {
  while (patches.length) patches.pop()!();
});

const REQUESTS = ['get', 'getAll', 'getAllKeys', 'put', 'add', 'delete', 'count', 'openCursor', 'openKeyCursor'];

/** Calls `hook` before every request issued on a store or an index of fake-indexeddb (for the test's duration). */
function onRequest(hook: (tx: IDBTransaction) => void): void {
  for (const proto of [FakeStore.prototype, FakeIndex.prototype] as unknown as Array<Record<string, unknown>>) {
    for (const method of REQUESTS) {
      const orig = proto[method] as ((...args: unknown[]) => unknown) | undefined;
      if (typeof orig !== 'function') continue;
      proto[method] = function (this: IDBObjectStore | IDBIndex, ...args: unknown[]) {
        const tx = 'transaction' in this ? this.transaction : (this as IDBIndex).objectStore.transaction;
        const out = orig.apply(this, args);
        hook(tx);
        return out;
      };
      patches.push(() => void (proto[method] = orig));
    }
  }
}

function version(seq: number, big: boolean): KeyRecord['vs'][number] {
  const v = JSON.stringify(big ? `v${seq}:${'x'.repeat(4096)}` : `v${seq}`);
  return { r: 'tabs', n: seq, t: 1_700_000_000_000 + seq, c: 0, v } as KeyRecord['vs'][number];
}

/** The key's next record: its versions kept beside a new one (stored chained onto it), or a new one alone (whole). */
function nextRecord(prev: KeyRecord | undefined, seq: number, rand: () => number): KeyRecord {
  const fresh = version(seq, rand() < 0.1);
  if (prev && rand() < 0.6) {
    const vs = [...prev.vs.slice(-2), fresh];
    return { vs, cc: { ...prev.cc, tabs: seq }, seq, h: seq.toString(16).padStart(16, '0') };
  }
  return { vs: [fresh], cc: { tabs: seq }, seq, h: seq.toString(16).padStart(16, '0') };
}

async function run(seed: number, steps: number): Promise<void> {
  const rand = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const factory = new IDBFactory();
  const name = `tabs-${seed}`;
  const tabs: Tab[] = [];
  const byConn = new Map<IDBDatabase, Tab>();
  /** Every write a callback run made, by the seq it minted (runs that failed may have minted a seq again). */
  const written = new Map<number, Written[]>();
  const writes = () => [...written.values()].flat();
  const acked = new Map<string, number>();
  /** The acknowledged write of each seq: two acknowledged writes never share one (a dot names one value). */
  const ackedSeqs = new Map<number, Written>();
  const rejected = new Set<Written>();
  const pending: Array<Promise<unknown>> = [];
  let nextTab = 0;
  // Armed faults: a countdown of requests to the victim's death, and one to a live tab's aborted transaction.
  let kill: { tab: Tab; left: number } | undefined;
  let abortIn = -1;
  const struck = { kills: 0, aborts: 0 };
  const where = (step: number) => `seed ${seed}, step ${step}`;

  onRequest((tx) => {
    const tab = byConn.get(tx.db);
    if (!tab || tab.dead) return;
    // Both strike once the code running now yields (a browser stops a tab, or aborts a transaction, between tasks).
    if (kill?.tab === tab && --kill.left <= 0) {
      kill = undefined;
      tab.dead = true;
      struck.kills++;
      // The browser stops the tab's JS and ends what it had under way: nothing of an unfinished transaction commits.
      queueMicrotask(() => {
        abort(tx);
        for (const db of tab.conns) forceCloseDatabase(db as never);
      });
      return;
    }
    if (abortIn >= 0 && abortIn-- === 0) {
      struck.aborts++;
      queueMicrotask(() => abort(tx));
    }
  });

  const openTab = async (): Promise<Tab> => {
    const tab: Tab = { id: nextTab++, s: undefined as unknown as IndexedDBStorage, dead: false, conns: [], seen: new Map() };
    const dummy = new IDBFactory();
    const tabFactory = {
      open: (dbName: string, v?: number) => {
        // A dead tab connects to nothing shared again (its JS is stopped: here its timers run on into an empty database).
        if (tab.dead) return dummy.open(dbName, v);
        const req = factory.open(dbName, v);
        req.addEventListener('success', () => {
          tab.conns.push(req.result);
          byConn.set(req.result, tab);
        });
        return req;
      },
      deleteDatabase: (dbName: string) => factory.deleteDatabase(dbName),
      cmp: (x: unknown, y: unknown) => factory.cmp(x, y),
      databases: () => factory.databases(),
    } as unknown as IDBFactory;
    tab.s = indexedDBStorage(name, {
      indexedDB: tabFactory,
      foldDelay: pick([0, 3, Infinity]),
      maxUnfolded: pick([4, 16, 64]),
    });
    await tab.s.open();
    tabs.push(tab);
    return tab;
  };

  /** A read's answer, checked; `floor`: what the tab had been shown when it issued the read. */
  const see = (tab: Tab, key: string, r: KeyRecord | undefined, at: string, floor: ReadonlyMap<string, number>) => {
    const before = floor.get(key) ?? 0;
    if (r === undefined) {
      // Gone: a removal of the key newer than what this tab was shown must exist.
      const removedAfter = writes().some((w) => w.key === key && w.rec === undefined && w.seq >= before);
      expect(before === 0 || removedAfter, `${at}: ${key} read as absent after tab ${tab.id} was shown seq ${before}`).toBe(true);
      return;
    }
    const ws = (written.get(r.seq) ?? []).filter((w) => w.key === key);
    expect(ws.length, `${at}: ${key}@${r.seq} read, but no callback wrote that`).toBeGreaterThan(0);
    const same = ws.filter((w) => equal(w.rec, r));
    expect(same.length, `${at}: ${key}@${r.seq} does not read back as written`).toBeGreaterThan(0);
    expect(same.some((w) => !rejected.has(w)), `${at}: ${key}@${r.seq} read, though its transact() was rejected`).toBe(true);
    expect(r.seq, `${at}: tab ${tab.id} read ${key}@${r.seq} after it was shown seq ${before}`).toBeGreaterThanOrEqual(before);
    if (r.seq > (tab.seen.get(key) ?? 0)) tab.seen.set(key, r.seq);
  };

  const commit = (tab: Tab) => {
    const keys = [...new Set(Array.from({ length: 1 + Math.floor(rand() * (rand() < 0.3 ? 12 : 3)) }, () => pick(KEYS)))];
    const removing = keys.map(() => rand() < 0.12);
    const randoms = Array.from({ length: keys.length * 2 }, () => rand());
    let runWrites: Written[] = [];
    const p = tab.s.transact(async (tx: StorageTx) => {
      if (tab.dead) throw new Error('the tab was stopped');
      const prevs = await Promise.all(keys.map((k) => tx.get(SPACE, k)));
      let seq = (await tx.getMeta<number>('seq')) ?? 0;
      let r = 0;
      const local = () => randoms[r++ % randoms.length]!;
      runWrites = [];
      keys.forEach((key, i) => {
        seq++;
        if (removing[i]) {
          tx.remove(SPACE, key);
          runWrites.push({ key, seq, rec: undefined, tab: tab.id });
        } else {
          const rec = nextRecord(prevs[i], seq, local);
          tx.put(SPACE, key, rec);
          runWrites.push({ key, seq, rec, tab: tab.id });
        }
      });
      tx.setMeta('seq', seq);
      // Two keys committed under one seq are caught at the final read.
      for (const w of runWrites) {
        const at = written.get(w.seq);
        if (at) at.push(w);
        else written.set(w.seq, [w]);
      }
      return runWrites.map((w) => w.seq);
    });
    pending.push(
      p.then(
        (seqs) => {
          if (tab.dead) return;
          for (const w of runWrites) {
            expect(seqs).toContain(w.seq);
            const other = ackedSeqs.get(w.seq);
            expect(other, `seed ${seed}: seq ${w.seq} acknowledged for ${w.key} (tab ${w.tab}) and for ${other?.key} (tab ${other?.tab})`).toBeUndefined();
            ackedSeqs.set(w.seq, w);
            if (w.seq > (acked.get(w.key) ?? 0)) acked.set(w.key, w.seq);
            if (w.seq > (tab.seen.get(w.key) ?? 0)) tab.seen.set(w.key, w.seq);
          }
        },
        () => {
          if (!tab.dead) for (const w of runWrites) rejected.add(w);
        },
      ),
    );
  };

  const read = (tab: Tab, step: number) => {
    const at = `${where(step)}, tab ${tab.id}`;
    const kind = rand();
    const key = pick(KEYS);
    const floor = new Map(tab.seen);
    const p =
      kind < 0.5
        ? tab.s.get(SPACE, key).then((r) => !tab.dead && see(tab, key, r, `${at} get`, floor))
        : kind < 0.75
          ? tab.s.scan(SPACE, { limit: 1 + Math.floor(rand() * 20) }).then((rows) => {
              if (!tab.dead) for (const [k, r] of rows) see(tab, k, r, `${at} scan`, floor);
            })
          : tab.s.readLog(SPACE, Math.floor(rand() * 40), 1 + Math.floor(rand() * 10)).then((rows) => {
              if (!tab.dead) for (const [k, r] of rows) see(tab, k, r, `${at} readLog`, floor);
            });
    // A read may fail when the browser aborted its transaction; a wrong answer fails the run (an expect throws).
    pending.push(p.catch((e: unknown) => (isExpectation(e) ? Promise.reject(e) : undefined)));
  };

  // Half the runs start from records an earlier release stored (the version 2 layout: no batches), upgraded by the
  // first tab.
  if (rand() < 0.5) {
    const old = KEYS.slice(0, 1 + Math.floor(rand() * 6)).map((key, i) => ({ key, seq: i + 1, rec: nextRecord(undefined, i + 1, rand), tab: -1 }));
    await storeVersion2(factory, name, old);
    for (const w of old) {
      written.set(w.seq, [w]);
      acked.set(w.key, w.seq);
      ackedSeqs.set(w.seq, w);
    }
  }
  await openTab();
  await openTab();
  for (let step = 0; step < steps; step++) {
    const live = tabs.filter((t) => !t.dead);
    if (live.length < 3 && rand() < 0.3) await openTab();
    const tab = pick(tabs.filter((t) => !t.dead));
    const what = rand();
    if (what < 0.5) commit(tab);
    else if (what < 0.8) read(tab, step);
    else if (what < 0.88) pending.push(tab.s.fold().catch(() => {}));
    else if (what < 0.94 && kill === undefined && live.length > 1) kill = { tab: pick(live), left: 1 + Math.floor(rand() * 30) };
    else if (abortIn < 0) abortIn = Math.floor(rand() * 40);
    if (rand() < 0.3) await Promise.all(pending.splice(0));
    if (rand() < 0.2) await new Promise((r) => setTimeout(r, Math.floor(rand() * 4)));
  }
  kill = undefined;
  abortIn = -1;
  await Promise.all(pending.splice(0));
  for (const t of tabs) if (!t.dead) await t.s.close();

  // A tab opened now: one state, whichever way it is read, holding every acknowledged write (or a later one).
  const last = await openTab();
  const check = async (when: string) => {
    const byGet = new Map<string, KeyRecord>();
    for (const key of KEYS) {
      const r = await last.s.get(SPACE, key);
      see(last, key, r, `${where(steps)} ${when} get`, new Map(last.seen));
      if (r) byGet.set(key, r);
      const a = acked.get(key) ?? 0;
      const w = ackedSeqs.get(a);
      if (a > 0) {
        // The acknowledged write is there, or a later write of the key took its place.
        const later = r ? r.seq : Math.max(0, ...writes().filter((x) => x.key === key && x.rec === undefined).map((x) => x.seq));
        expect(later, `${where(steps)} ${when}: ${key}@${a} was acknowledged (${w?.rec ? 'put' : 'removal'}) but reads as ${r ? `seq ${r.seq}` : 'absent'}`).toBeGreaterThanOrEqual(a);
        if (!r) expect(w?.rec === undefined || later > a, `${where(steps)} ${when}: ${key}@${a} acknowledged, read as absent`).toBe(true);
      }
    }
    const want = [...byGet].sort((x, y) => (x[0] < y[0] ? -1 : 1));
    expect(await last.s.scan(SPACE, { limit: 1000 }), `${where(steps)} ${when}: scan`).toEqual(want);
    expect(await last.s.readLog(SPACE, 0, 1000), `${where(steps)} ${when}: readLog`).toEqual([...want].sort((x, y) => x[1].seq - y[1].seq));
    const index = (await last.s.index(SPACE)).sort((x, y) => (x.key < y.key ? -1 : 1));
    expect(index, `${where(steps)} ${when}: index`).toEqual(want.map(([key, r]) => ({ key, seq: r.seq, h: r.h })));
    const seqs = want.map(([, r]) => r.seq);
    expect(new Set(seqs).size, `${where(steps)} ${when}: a seq held by two keys`).toBe(seqs.length);
  };
  await check('before folding');
  console.log(`seed ${seed}: ${tabs.length} tabs, ${struck.kills} stopped dead, ${struck.aborts} transactions aborted, ${ackedSeqs.size} writes acknowledged`);
  await last.s.fold();
  await check('after folding');
  await last.s.close();
  for (const t of tabs) if (t.dead) await t.s.close().catch(() => {});
}

/** Records stored whole as the version 2 layout stored them (heads with the log index, states, deltas, meta seq). */
function storeVersion2(factory: IDBFactory, name: string, records: readonly Written[]): Promise<void> {
  return storeLayout(factory, name, 2, (tx) => {
    for (const { key, rec } of records) {
      const { seq, h, ...state } = rec!;
      tx.objectStore('heads').put({ s: SPACE, k: key, seq, h });
      tx.objectStore('states').put(state, [SPACE, key]);
    }
    tx.objectStore('meta').put(records.length, 'seq');
  });
}

function equal(a: unknown, b: unknown): boolean {
  try {
    expect(a).toEqual(b);
    return true;
  } catch {
    return false;
  }
}

function abort(tx: IDBTransaction): void {
  try {
    tx.abort();
  } catch {
    // Finished already.
  }
}

function isExpectation(e: unknown): boolean {
  return e instanceof Error && (e.name === 'AssertionError' || e.constructor.name === 'AssertionError');
}

const one = process.env.SEED !== undefined ? Number(process.env.SEED) : undefined;
const base = one ?? Date.now() % 1_000_000;
const seeds = one !== undefined ? [one] : Array.from({ length: 8 }, (_, i) => base + i);

describe('tabs sharing IndexedDB under tab deaths and aborted transactions (fake-indexeddb)', () => {
  it(`seeds ${seeds[0]}..${seeds[seeds.length - 1]}`, async () => {
    console.log(`indexeddb-tabs property: seeds ${seeds.join(',')} (SEED=<n> replays one)`);
    for (const seed of seeds) {
      try {
        await run(seed, 160);
      } catch (e) {
        console.log(`indexeddb-tabs property: failed at seed ${seed} (SEED=${seed} replays it)`);
        throw e;
      }
    }
  }, 120_000);
});
