// A storage that has met a peer speaking protocol 11 (identity.ts EPOCH_PEER_META), as a session whose hellos both
// announced 11 leaves it: its next open at 11 tags (docs/design/epochs-build.md, "Item 6 — decided"). For tests of
// tagging itself, which would otherwise need a session and a reopen first.
import { EPOCH_PEER_META } from '../../lib/identity.js';
import type { StorageAdapter } from '../../lib/storage.js';

export async function metAt11<S extends StorageAdapter>(storage: S): Promise<S> {
  await storage.open();
  await storage.transact((tx) => tx.setMeta(EPOCH_PEER_META, 1));
  await storage.close();
  return storage;
}
