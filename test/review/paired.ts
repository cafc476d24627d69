/** Two replicas over an in-memory pair of transports, for the review tests of one session's frames (rev44). */
import { afterEach } from 'vitest';
import { pairTransports, type Link, type Replica } from '../../lib/index.js';

/** Registers the file's cleanup: `undo` runs after each test, last first. */
export function paired() {
  const undo: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const u of undo.splice(0).reverse()) await u().catch(() => {});
  });
  /** Links `a` and `b` (no periodic anti-entropy); closed after the test. */
  const connect = (a: Replica, b: Replica): Link[] => {
    const [ta, tb] = pairTransports();
    const links = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
    undo.push(async () => links.forEach((l) => l.close()));
    return links;
  };
  return { undo, connect };
}

export const value = async (r: Replica, key: string) => (await r.space('s').get(key))?.value;
