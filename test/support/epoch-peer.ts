// A storage that has met a peer speaking protocol 11 (identity.ts EPOCH_PEER_META), as a session whose hellos both
// announced 11 leaves it: its next open at 11 tags (docs/design/epochs-build.md, "Item 6 — decided"). For tests of
// tagging itself, which would otherwise need a session and a reopen first.
import { afterEach } from 'vitest';
import { AT11_EARLIER, AT11_META, EPOCH_PEER_META } from '../../lib/identity.js';
import { memoryStorage, openReplica, type Link, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';

/** Every version up to 11 (which PROTOCOL_VERSIONS does not announce yet). */
export const WITH_11 = [...PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS), EPOCH_DOTS];

export async function metAt11<S extends StorageAdapter>(storage: S): Promise<S> {
  await storage.open();
  await storage.transact((tx) => tx.setMeta(EPOCH_PEER_META, 1));
  await storage.close();
  return storage;
}

/**
 * A storage whose sessions at 11 met only peers of earlier releases (identity.ts AT11_META `earlier`), as such a session
 * leaves it: its later opens do not tag until it meets a peer at 11.
 */
export async function metOnlyEarlier<S extends StorageAdapter>(storage: S): Promise<S> {
  await storage.open();
  await storage.transact((tx) => tx.setMeta(AT11_META, AT11_EARLIER));
  await storage.close();
  return storage;
}

/**
 * Replicas speaking 11 (`replica`: on a storage that met a peer at 11, a fresh memory one by default) and `links`, both
 * closed after each test, links first; a test that closes a replica itself takes it out of `open`.
 */
export function at11Replicas() {
  const open: Replica[] = [];
  const links: Link[] = [];
  afterEach(async () => {
    for (const l of links.splice(0)) l.close();
    for (const r of open.splice(0)) await r.close().catch(() => {});
  });
  const replica = async (storage: StorageAdapter = memoryStorage()): Promise<Replica> => {
    const r = await openReplica({ storage: await metAt11(storage), speaks: WITH_11 });
    open.push(r);
    return r;
  };
  return { replica, open, links };
}
