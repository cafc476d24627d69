/**
 * Review rev47a: a link closed while the peer's frames wait in its inbox behind a join its storage has not answered yet
 * (file storage, IndexedDB: joins answer promises) still joins them once the storage answers — after the next link of
 * the same peer read the cursor, streamed, and stored a cursor past them. Each then stored its own cursor record,
 * lower, and its reach with it (what restore detection judges by, handshake.ts reachHeld). Found by the differential
 * (test/review/live-shared-differential.test.ts, SOAK seed 126); here step by step: the client's storage answers one
 * transaction at a time when told, so the closed link's next join and the new link's first one wait side by side.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica, type StorageAdapter } from '../../lib/index.js';
import { cursorKey, readCursor, type StoredCursor } from '../../lib/sync/lineage.js';
import { memoryRelay } from '../support/tab-group.js';
import { dump, synced, until } from '../sync/support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

/** `inner`, whose transactions wait while held until `step` lets the first one waiting run; `done`: those committed. */
function stepped(inner: StorageAdapter) {
  const waiting: Array<() => void> = [];
  let held = false;
  let done = 0;
  const storage = new Proxy(inner, {
    get(target, prop) {
      if (prop === 'transactNow') return held ? undefined : target.transactNow!.bind(target);
      if (prop === 'transact') {
        return (fn: Parameters<StorageAdapter['transact']>[0]) => {
          const go = () => target.transact(fn).finally(() => done++);
          return held ? new Promise<void>((r) => waiting.push(r)).then(go) : go();
        };
      }
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return {
    storage,
    get waiting() {
      return waiting.length;
    },
    get done() {
      return done;
    },
    hold() {
      held = true;
    },
    /** Lets the first transaction waiting run; resolves once it committed. */
    async step() {
      const before = done;
      waiting.shift()!();
      await until(() => done > before, 'the transaction let through committed');
    },
    free() {
      held = false;
      for (const go of waiting.splice(0)) go();
    },
  };
}

describe('a closed link’s frames joined late do not take the cursor back', () => {
  it('the cursor record and its reach never go back when the new link stored one past the closed link’s frames', async () => {
    const relay = await openReplica({ storage: memoryStorage() });
    open.push(relay);
    const mem = memoryRelay(relay);
    const st = stepped(memoryStorage());
    const client = await openReplica({ storage: st.storage });
    open.push(client);
    client.space('s');
    relay.space('s');
    let link = client.connect(mem.transport());
    await synced(client);
    const key = cursorKey(relay.replicaId, 's');
    const records: StoredCursor[] = [];
    const note = async () => {
      const c = readCursor(await st.storage.getMeta(key));
      if (c && (records.length === 0 || JSON.stringify(records.at(-1)) !== JSON.stringify(c))) records.push(c);
    };

    // Five frames from the relay; the first one's join waits on the storage, the four behind it in the inbox.
    st.hold();
    for (let i = 1; i <= 5; i++) {
      await relay.space('s').put(`k${i}`, i);
      await new Promise((r) => setTimeout(r, 2));
    }
    await until(() => st.waiting === 1, "the first frame's join waits on the storage");
    // The link drops and comes back (same replica): the new link's hello waits for that cursor write, then streams.
    link.close();
    link = client.connect(mem.transport());
    // One transaction at a time: each time both links have one waiting (or only one is left), the first goes.
    for (let n = 0; n < 40 && !(st.waiting === 0 && Object.keys(await dump(client, 's')).length === 5 && client.status === 'synced'); n++) {
      const at = Date.now();
      await until(() => st.waiting >= 2 || (st.waiting === 1 && Date.now() - at > 100) || client.status === 'synced', 'a transaction waiting', 5000).catch(() => {});
      if (st.waiting > 0) await st.step();
      await note();
    }
    st.free();
    await synced(client);
    await note();
    expect(Object.keys(await dump(client, 's')).sort()).toEqual(['k1', 'k2', 'k3', 'k4', 'k5']);
    // The two links did both join (else this shows nothing): the closed link's first frame and the new link's stream.
    expect(records.length).toBeGreaterThan(1);
    for (let i = 1; i < records.length; i++) {
      const [was, now] = [records[i - 1]!, records[i]!];
      if (was.e !== now.e) continue;
      expect(now.s, `cursor records in order: ${JSON.stringify(records)}`).toBeGreaterThanOrEqual(was.s);
      if (was.re === now.re) expect(now.rs ?? 0, `reaches in order: ${JSON.stringify(records)}`).toBeGreaterThanOrEqual(was.rs ?? 0);
    }
    link.close();
  }, 60_000);
});
