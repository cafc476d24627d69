import { localConfig } from '../../lib/membership/index.js';
import type { Relay, RelayOptions } from '../../adapters/relay/index.js';
import { SECRET, startRelay } from '../relay/support.js';

export { client, closeAll, dump, SECRET, synced, until } from '../relay/support.js';

/** Relay-to-relay tokens are signed with their own secret, distinct from the client tokens' SECRET. */
export const CLUSTER_SECRET = 'cluster-secret-fedcba9876543210';

/**
 * A cluster relay on loopback with fast SWIM timings (a little more patient than localConfig, so a busy
 * machine running test files in parallel does not make members flap) and quick relay-to-relay reconnects.
 */
export function clusterRelay(options: RelayOptions = {}): Promise<Relay> {
  return startRelay({
    secret: SECRET,
    clusterSecret: CLUSTER_SECRET,
    cluster: localConfig({ probeInterval: 200, probeTimeout: 100, suspicionMult: 4 }),
    clusterBackoff: { base: 20, max: 200 },
    ...options,
  });
}

/** The ids of the members `relay` holds live (alive, or suspect and not yet refuted), sorted. */
export function aliveIds(relay: Relay): string[] {
  return relay
    .members()
    .filter((m) => m.state === 'alive' || m.state === 'suspect')
    .map((m) => m.id)
    .sort();
}
