/**
 * What test/browser/tabs.test.ts drives in each tab (`window.tabs`): one replica on IndexedDB shared by the
 * tabs of the origin, connected (in every tab) to a relay on loopback, and small verbs over it.
 */
import { indexedDBStorage, type IndexedDBStorage } from '../../../adapters/indexeddb/index.js';
import { webSocketTransport } from '../../../adapters/ws/index.js';
import { openReplica, type Link, type Replica, type Space, type WriteResult } from '../../../lib/index.js';

let replica: Replica | undefined;
let storage: IndexedDBStorage | undefined;
let space: Space | undefined;
let link: Link | undefined;
const writes = new Map<string, WriteResult>();
const log: string[] = [];

function must<T>(v: T | undefined): T {
  if (v === undefined) throw new Error('tabs: open first');
  return v;
}

const tabs = {
  async open(db: string, options: { beatMs?: number; probeTimeoutMs?: number } = {}) {
    storage = indexedDBStorage(db);
    replica = await openReplica({ storage, sharedNetwork: options });
    space = replica.space('room');
    replica.on('status', (s) => log.push(`status:${s}`));
    replica.on('error', (e) => log.push(`error:${String(e)}`));
    return replica.replicaId;
  },
  /** Connects with a long backoff, so only a wake (online, visible) reconnects quickly after a failure. */
  connect(url: string, slowBackoff = false) {
    link = must(replica).connect(webSocketTransport(url), slowBackoff ? { backoff: { base: 60_000, max: 60_000 } } : {});
  },
  disconnect() {
    link?.close();
    link = undefined;
  },
  status: () => must(replica).status,
  pending: () => must(replica).pending,
  isLeader: () => must(storage).shared().isLeader,
  log: () => log.slice(),
  async put(key: string, value: unknown) {
    const w = await must(space).put(key, value);
    writes.set(key, w);
    return w.seq;
  },
  durability: (key: string) => writes.get(key)?.durability,
  synced: (key: string) => must(writes.get(key)).synced.then(() => true),
  whenSynced: () => must(replica).whenSynced().then(() => 'resolved'),
  async get(key: string) {
    return (await must(space).get(key))?.value;
  },
  present: (name: string) => must(space).presence.set({ name }),
  members: () =>
    must(space)
      .presence.list()
      .map((m) => (m.meta as { name?: string } | null)?.name ?? '?')
      .sort()
      .join(','),
  /** Blocks this tab's event loop for `ms` after returning (a stalled tab: no freeze event, no task runs). */
  stallSoon(ms: number) {
    setTimeout(() => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        // busy
      }
    }, 0);
  },
  async close() {
    await replica?.close();
    replica = undefined;
  },
};

(globalThis as { tabs?: typeof tabs }).tabs = tabs;
export type Tabs = typeof tabs;
