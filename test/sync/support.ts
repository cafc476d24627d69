import { memoryStorage } from '../../lib/memory-storage.js';
import { openReplica, type Replica, type ReplicaOptions } from '../../lib/replica.js';
import type { StreamPort } from '../../lib/sync/outgoing.js';

/** Waits until `cond()` holds, polling; fails with `what` after `ms`. */
export async function until(cond: () => boolean | Promise<boolean>, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
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

/** Replicas on memory storage, each with space 's' opened; `closeAll` closes every one made (for afterAll). */
export function replicaPool() {
  const open: Replica[] = [];
  return {
    async replica(options: Omit<ReplicaOptions, 'storage'> = {}): Promise<Replica> {
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
    send: (m) => void sent.push(m.upTo),
    acked: () => {},
    refreshStatus: () => {},
    fail: (e) => {
      throw e;
    },
    ...parts,
  };
}
