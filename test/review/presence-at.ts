/**
 * A relay's PresenceHub (lib/sync/presence-hub.ts) on a replica whose clock the test moves (`clock.now`), its ticks
 * called by the test, and client channels restricted as Replica.accept restricts a client's session. Shared by the
 * presence budget reviews.
 */
import { memoryStorage, openReplica } from '../../lib/index.js';
import type { SyncHub } from '../../lib/sync/hub.js';
import { PresenceHub, type PresenceChannel, type SenderPolicy } from '../../lib/sync/presence-hub.js';

export interface PresenceAt {
  readonly hub: PresenceHub;
  readonly clock: { now: number };
  /** A client's channel: its entries vouched for by `policy`. */
  client(policy: SenderPolicy): PresenceChannel;
  close(): Promise<void>;
}

export async function presenceAt(ttl: number): Promise<PresenceAt> {
  const clock = { now: 1_000_000 };
  const relay = await openReplica({ storage: memoryStorage(), now: () => clock.now });
  const hub = new PresenceHub({ core: relay.core } as unknown as SyncHub, ttl);
  return {
    hub,
    clock,
    client(policy) {
      const c: PresenceChannel = { sendPresence: () => {}, hasSpace: () => true };
      hub.addChannel(c);
      hub.restrict(c, policy);
      return c;
    },
    close: async () => (hub.close(), await relay.close()),
  };
}
