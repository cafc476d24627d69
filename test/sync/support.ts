import { memoryStorage } from '../../lib/memory-storage.js';
import { openReplica, type Replica, type ReplicaOptions } from '../../lib/replica.js';
import type { Connection, ConnectionHandlers, Transport } from '../../lib/transport.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { decodeMessage, type Message } from '../../lib/sync/messages.js';
import type { StreamPort } from '../../lib/sync/outgoing.js';
import type { EpochLink } from '../../lib/sync/epoch-wire.js';
import { AckTracker } from '../../lib/acks.js';
import { memoryRelay } from '../support/tab-group.js';

/** Waits until `cond()` holds, polling; fails with `what` after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/**
 * Whether `r`'s anti-entropy has waited for a record it left out to be durable (core.ts whenDurable, lib/sync/left-out.ts)
 * since this was called: a run with a record held undurable waits there, its next turn unsent (a call for a seq already
 * durable, which resolves at once, is no wait), by a run of space `only` if given. Never, on code before.
 */
export function durableWaits(r: Replica, only?: string): () => boolean {
  let waited = false;
  const core = r.core as { whenDurable?: (seq: number, space?: string) => Promise<void>; durableSeq?: number };
  const whenDurable = core.whenDurable?.bind(core);
  if (whenDurable)
    core.whenDurable = (seq, space) => {
      if (seq > (core.durableSeq ?? 0) && (only === undefined || space === only)) waited = true;
      return whenDurable(seq, space);
    };
  return () => waited;
}

/** `inner` with every incoming frame handed over `ms` later (order kept): a link with latency. */
export function delayed(inner: Transport, ms: number, options: { reconnect?: boolean } = {}): Transport {
  return {
    ...(options.reconnect !== undefined ? { reconnect: options.reconnect } : {}),
    open(handlers: ConnectionHandlers): Promise<Connection> {
      let chain = Promise.resolve();
      return inner.open({
        onMessage: (frame) => {
          const at = Date.now() + ms;
          chain = chain.then(() => new Promise<void>((r) => setTimeout(r, Math.max(0, at - Date.now())))).then(() => handlers.onMessage(frame));
        },
        onClose: (code, reason) => void chain.then(() => handlers.onClose(code, reason)),
      });
    },
  };
}

/** A relay replica served in memory (tab-group.ts memoryRelay) and a writer of `space` connected to it, both opened with `o`; both go on `open`. */
export async function relayWithWriter(space: string, open: Replica[], o: { speaks?: readonly number[] } = {}) {
  const relay = await openReplica({ storage: memoryStorage(), ...o });
  const mem = memoryRelay(relay);
  const writer = await openReplica({ storage: memoryStorage(), ...o });
  open.push(relay, writer);
  writer.space(space);
  writer.connect(mem.transport());
  return { relay, mem, writer };
}

export const synced = (...rs: Replica[]) => until(() => rs.every((r) => r.status === 'synced'), 'all replicas synced');

/** Every live key of a space with its siblings and versions, for comparing replicas. */
export async function dump(r: Replica, space: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = {};
  for await (const e of r.space(space).scan('')) {
    out[e.key] = { siblings: e.siblings, versions: e.versions.map((v) => `${v.replicaId}:${v.counter}${v.deleted ? 'd' : ''}`) };
  }
  return out;
}

/** Replicas (on memory storage unless given one), each with space 's' opened; `closeAll` closes every one made (for afterAll). */
export function replicaPool() {
  const open: Replica[] = [];
  return {
    async replica(options: Partial<ReplicaOptions> = {}): Promise<Replica> {
      const r = await openReplica({ storage: memoryStorage(), ...options });
      open.push(r);
      r.space('s');
      return r;
    },
    async closeAll(): Promise<void> {
      for (const r of open.splice(0)) await r.close();
    },
  };
}

/** A LogStream's port for unit tests: an open session whose frames go to `sent` (their upTo), over `parts`' log. */
export function streamPort(sent: number[], parts: Pick<StreamPort, 'readLog' | 'lastSeq'>): StreamPort {
  return {
    closed: false,
    peerId: 'peer',
    frameBudget: 1 << 20,
    wide: false,
    send: (m) => (sent.push(m.upTo), 0),
    acked: () => {},
    tellTop: () => {},
    refreshStatus: () => {},
    fail: (e) => {
      throw e;
    },
    ...parts,
  };
}

/** A transport whose connections hand every frame they send to `send`, with the inner connection to pass it on. */
export function tapped(inner: Transport, send: (frame: Parameters<Connection['send']>[0], conn: Connection) => void): Transport {
  return {
    ...inner,
    async open(handlers) {
      const conn = await inner.open(handlers);
      return {
        ...conn,
        send: (frame) => send(frame, conn),
        close: (code, reason) => conn.close(code, reason),
        get bufferedAmount() {
          return conn.bufferedAmount;
        },
      };
    },
  };
}

/** The messages among `got[from…]` that decode alone with the connection's string table (LIVE frames do not). */
export function decodedFrom(got: readonly Uint8Array[], from: number, table: string[], epochs?: EpochLink): Message[] {
  const out: Message[] = [];
  for (const f of got.slice(from)) {
    try {
      out.push(decodeMessage(f, { maxValueBytes: 1 << 20, table, ...(epochs ? { epochs } : {}) }));
    } catch {
      // a LIVE frame
    }
  }
  return out;
}

/** Memory storage whose log reads return short pages and may run `hook` inside the first read (after reading it). */
export function pagedStorage(pageSize: number): { storage: StorageAdapter; beforeFirstPage: (f: () => Promise<void>) => void } {
  const inner = memoryStorage();
  let hook: (() => Promise<void>) | undefined;
  const storage = new Proxy(inner, {
    get(target, p) {
      if (p === 'readLog') {
        return async (space: string, after: number, limit: number) => {
          const page = await target.readLog(space, after, Math.min(limit, pageSize));
          const f = hook;
          hook = undefined;
          if (f) await f();
          return page;
        };
      }
      const v = Reflect.get(target, p, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, beforeFirstPage: (f) => (hook = f) };
}

/** `storage` with its log reads counted (records returned). */
export function countingReads(storage: StorageAdapter): { storage: StorageAdapter; read: () => number } {
  let read = 0;
  return {
    read: () => read,
    storage: {
      open: () => storage.open(),
      close: () => storage.close(),
      transact: (fn) => storage.transact(fn),
      get: (space, key) => storage.get(space, key),
      getMeta: (name) => storage.getMeta(name),
      scan: (space, o) => storage.scan(space, o),
      index: (space) => storage.index(space),
      spaces: () => storage.spaces(),
      readLog: async (space, after, limit) => {
        const page = await storage.readLog(space, after, limit);
        read += page.length;
        return page;
      },
    },
  };
}

/** An acknowledgement tracker alone, every key's record where `at.k` says (as a replica's `where` and `locate` tell it). */
export function placedTracker(at: { k: number }): AckTracker {
  const acks = new AckTracker();
  acks.where = async () => at.k;
  acks.locate = () => at.k;
  return acks;
}

/** A few timer turns: the tracker's reads and wakes settle. */
export const tick = (): Promise<unknown> => new Promise((r) => setTimeout(r, 5));
