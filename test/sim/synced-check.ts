/**
 * The synced-durable check (run-schedule.ts): when a write's `w.synced` resolves, some OTHER node's disk durably
 * holds the write — its durable record of the key has a context covering the write's dot — at that instant (a power
 * loss there now must not lose it; what a later restore of that node loses is the relay-restore fault's, checked by
 * the history). The write's dot is the one it was stored under, or one a re-identification of its replica re-issued
 * it under since (lib/reidentify.ts: `w.synced` then waits for the re-issued version, lib/acks.ts reissued): the
 * ledger follows that chain (ledger.ts reissueChain).
 */
import type { Cluster } from './cluster.js';
import { splitDot, type Dot } from './ledger.js';

/** Violations reported at most (the first ones tell the story). */
const MAX_REPORTED = 5;

export class SyncedDurableCheck {
  readonly violations: string[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly space: string,
  ) {}

  /** `node`'s write of `key` stored under `dot` (`what`: how to name it) resolved; judge it when `synced` does. */
  watch(node: string, key: string, dot: Dot, what: string, synced: Promise<void>): void {
    void synced.then(() => {
      if (this.heldElsewhere(node, key, dot) || this.violations.length >= MAX_REPORTED) return;
      const chain = this.cluster.ledger.reissueChain(node, dot);
      const under = chain.length > 1 ? `, re-issued as ${chain.slice(1).join(' then ')}` : '';
      this.violations.push(`${node}'s ${what} (${key}@${dot}${under}) was reported synced at ${this.cluster.clock.now()} while no other node held it durably`);
    }, () => {});
  }

  /** Whether a node other than `node` durably holds the write under `dot` or a dot it was re-issued under. */
  heldElsewhere(node: string, key: string, dot: Dot): boolean {
    return this.cluster.ledger.reissueChain(node, dot).some((d) => {
      const [r, n] = splitDot(d);
      return [...this.cluster.nodes.values()].some((m) => m.name !== node && m.disk.durablySeen(this.space, key, r, n));
    });
  }
}
