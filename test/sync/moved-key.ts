/**
 * A write whose key then moved to a record not durable yet: the writer wrote k ('old'), then o, then k again ('new'),
 * applied but not fsynced; a reconnect streams the durable log from both sides' cursors, which stops before k's old
 * seq until the new record is durable. The peer holds nothing of k meanwhile.
 * (test/sync/synced-after-repair.test.ts and test/review/durability-latch.test.ts.)
 */
import { memoryStorage, openReplica, pairTransports, type Link, type Replica, type WriteResult } from '../../lib/index.js';
import { volatileStorage, type VolatileStorage } from '../support/volatile-storage.js';
import { until } from './support.js';

export interface MovedKey {
  storage: VolatileStorage;
  writer: Replica;
  peer: Replica;
  /** The first write of k, which the catch-up's acknowledgement passed. */
  first: WriteResult;
  /** The second write of k: resolves once `storage.flush()` made it durable. */
  second: Promise<WriteResult>;
  close(): Promise<void>;
}

/** Sets the case up; `beforeReconnect` runs with the first write just before the links come back. */
export async function keyMovedToUndurable(beforeReconnect?: (first: WriteResult) => void): Promise<MovedKey> {
  const storage = volatileStorage();
  const writer = await openReplica({ storage });
  const peer = await openReplica({ storage: memoryStorage() });
  const links: Link[] = [];
  const connect = () => {
    const [ta, tb] = pairTransports();
    links.push(writer.connect(ta, { antiEntropyInterval: 0 }), peer.connect(tb, { antiEntropyInterval: 0 }));
  };
  const close = async () => {
    for (const l of links) l.close();
    await Promise.all([writer.close(), peer.close()]);
  };
  try {
    connect();
    // Both hold a cursor into the other's log, so the reconnect streams from them (no anti-entropy run first).
    await (await writer.space('s').put('first', 1)).synced;
    await peer.space('s').put('p', 1);
    await until(async () => (await writer.space('s').get('p')) !== undefined, 'the writer got the peer\'s write');
    for (const l of links.splice(0)) l.close();
    const first = await writer.space('s').put('k', 'old');
    await writer.space('s').put('o', 'other');
    storage.autoFlush = false;
    const second = writer.space('s').put('k', 'new'); // applied at once, durable on flush()
    await until(() => storage.unflushed > 0, 'the second write of k applied');
    beforeReconnect?.(first);
    connect();
    // The log read stops before k's durable entry while its newer record is not durable (StorageAdapter readLog), so
    // the peer gets neither k nor o for now (before that fix it got o, in a frame whose cursor passed k's old entry).
    await until(() => writer.status !== 'offline' && peer.status !== 'offline', 'the link is up');
    await new Promise((r) => setTimeout(r, 200));
    return { storage, writer, peer, first, second, close };
  } catch (e) {
    await close();
    throw e;
  }
}
