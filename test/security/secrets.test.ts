/**
 * Secrets (issue 11, hardening): client and cluster secrets are distinct, a relay without them does not
 * cluster, and secrets rotate — a list's first secret is current, the others stay accepted for a grace
 * period after the relay starts, then are refused.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createRelay, createToken } from '../../adapters/relay/index.js';
import { isConcordError } from '../../lib/index.js';
import { localConfig } from '../../lib/membership/index.js';
import { rawSession, syncItem } from './raw-session.js';
import { closeAll, CLUSTER_SECRET, SECRET, tracker, until } from './support.js';

const t = tracker();
afterAll(() => closeAll(...t.open));

const OLD = 'old-client-secret-0000000000';
const OLD_CLUSTER = 'old-cluster-secret-111111111';

async function served(url: string, token: string): Promise<number> {
  const peer = rawSession(url, { token, spaces: [syncItem('s')] });
  const outcome = await Promise.race([peer.ready.then(() => 0), peer.closed.then((c) => c.code)]);
  peer.close();
  return outcome;
}

describe('secrets and their rotation', () => {
  it('accepts tokens of a previous secret during the grace period only', async () => {
    let offset = 0;
    const now = () => Date.now() + offset;
    const relay = await t.relay({ secret: [SECRET, OLD], secretGrace: '1h', now });
    const mint = (secret: string) => createToken(secret, { spaces: { s: 'write' }, expiresIn: '1d', now: now() });
    expect(await served(relay.url, mint(SECRET))).toBe(0);
    expect(await served(relay.url, mint(OLD))).toBe(0);
    offset = 2 * 3600 * 1000; // two hours later: the grace is over
    expect(await served(relay.url, mint(SECRET))).toBe(0);
    expect(await served(relay.url, mint(OLD))).toBe(4401);
    expect(await served(relay.url, mint('never-a-secret-of-this-relay'))).toBe(4401);
  });

  it('refuses configurations that would mix client and relay powers', async () => {
    const refused = async (options: Parameters<typeof createRelay>[0]) => {
      const e = await createRelay({ port: 0, log: false, ...options }).then((r) => (t.add(r), undefined), (err: unknown) => err);
      return isConcordError(e, 'INVALID_OPTION');
    };
    expect(await refused({ secret: SECRET, clusterSecret: SECRET })).toBe(true);
    expect(await refused({ secret: [SECRET, OLD], clusterSecret: [CLUSTER_SECRET, OLD] })).toBe(true);
    expect(await refused({ clusterSecret: CLUSTER_SECRET })).toBe(true);
    expect(await refused({ join: ['ws://127.0.0.1:1'] })).toBe(true);
  });

  it('rotates the cluster secret in two phases without splitting the cluster', async () => {
    const config = localConfig({ probeInterval: 200, probeTimeout: 100, suspicionMult: 4 });
    // Phase 1 relay: signs with the old secret, already accepts the new one. Phase 2 relay: the reverse.
    const a = await t.relay({ secret: SECRET, clusterSecret: [OLD_CLUSTER, CLUSTER_SECRET], cluster: config, clusterBackoff: { base: 20, max: 200 } });
    const b = await t.relay({ secret: SECRET, clusterSecret: [CLUSTER_SECRET, OLD_CLUSTER], cluster: config, clusterBackoff: { base: 20, max: 200 }, join: [a.url] });
    const alive = (r: typeof a, other: typeof b) => r.members().some((m) => m.address === other.url && m.state === 'alive');
    await until(() => alive(a, b) && alive(b, a), 'both relays see each other alive', 10_000);
    // A relay holding neither secret is refused.
    const c = await t.relay({ secret: SECRET, clusterSecret: 'a-third-cluster-secret-2222', cluster: config, join: [a.url] });
    await new Promise((r) => setTimeout(r, 1000));
    expect(a.members().some((m) => m.address === c.url)).toBe(false);
  });
});
