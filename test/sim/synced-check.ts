/**
 * The synced-durable check (run-schedule.ts): when a write's `w.synced` resolves, some OTHER node's disk durably
 * holds the write — its durable record of the key has a context covering the write's dot — at that instant (a power
 * loss there now must not lose it; what a later restore of that node loses is the relay-restore fault's, checked by
 * the history). The write's dot is the one it was stored under, or one a re-identification of its replica re-issued
 * it under since (lib/reidentify.ts: `w.synced` then waits for the re-issued version, lib/acks.ts reissued): the
 * ledger follows that chain, and the local writes that superseded it on the way (ledger.ts carriedChain).
 */
import type { Cluster, Volume } from './cluster.js';
import { splitDot, type Dot } from './ledger.js';

/** Violations reported at most (the first ones tell the story). */
const MAX_REPORTED = 5;

export class SyncedDurableCheck {
  readonly violations: string[] = [];

  /** `start`: the virtual time the schedule's times count from (violations name the time as the schedule does). */
  constructor(
    private readonly cluster: Cluster,
    private readonly space: string,
    private readonly start: number,
  ) {}

  /** Disks replaced so far (SIM_SYNCED_DEBUG=1 names those before a violation). */
  private readonly replaced: string[] = [];
  /** Disks nodes had until a restore or a wipe replaced them, with the time they went. */
  private readonly retired: Array<{ node: string; disk: Volume; at: number }> = [];
  /** Per receiving node: the frames delivered to it at the current instant (sender, time sent). */
  private readonly deliveries = new Map<string, { at: number; frames: Array<{ from: string; sentAt: number }> }>();

  /** `node`'s disk `old` was replaced (`why`: restore, disk). */
  diskReplaced(node: string, old: Volume, why: string): void {
    this.replaced.push(`${why} of ${node} @${this.now()}`);
    this.retired.push({ node, disk: old, at: this.cluster.clock.now() });
  }

  /** The network delivered to `to` a frame `from` sent at `sentAt` (virtual time). */
  delivered(from: string, to: string, sentAt: number): void {
    const now = this.cluster.clock.now();
    let d = this.deliveries.get(to);
    if (!d || d.at !== now) this.deliveries.set(to, (d = { at: now, frames: [] }));
    d.frames.push({ from, sentAt });
  }

  private now(): number {
    return Math.round(this.cluster.clock.now() - this.start);
  }

  /** `node`'s write of `key` stored under `dot` (`what`: how to name it) resolved; judge it when `synced` does. */
  watch(node: string, key: string, dot: Dot, what: string, synced: Promise<void>): void {
    const at = this.now();
    void synced.then(() => {
      if (this.heldElsewhere(node, key, dot) || this.violations.length >= MAX_REPORTED) return;
      const chain = this.cluster.ledger.carriedChain(node, this.space, key, dot);
      const under = chain.length > 1 ? `, carried on as ${chain.slice(1).join(', ')}` : '';
      let more = '';
      if (process.env.SIM_SYNCED_DEBUG) {
        const applied = [...this.cluster.nodes.values()].filter((m) => m.name !== node && chain.some((d) => this.covers(m.disk.records(this.space).find(([k]) => k === key)?.[1].cc, d)));
        const own = this.cluster.node(node).disk;
        const seqIn = (list: Array<[string, { seq: number }]>) => list.find(([k]) => k === key)?.[1].seq ?? '-';
        more = ` [written @${at}; applied, not durable, on: ${applied.map((m) => m.name).join(',') || '-'}; ${node}'s record of ${key} at seq ${seqIn(own.records(this.space))} (durable: ${seqIn(own.durableRecords(this.space))}); ${node}'s ids ${this.cluster.node(node).ids.join(',')}; disks replaced: ${this.replaced.join(', ') || '-'}]`;
      }
      this.violations.push(`${node}'s ${what} (${key}@${dot}${under}) was reported synced @${this.now()} while no other node held it durably${more}`);
    }, () => {});
  }

  private covers(cc: Readonly<Record<string, number>> | undefined, dot: Dot): boolean {
    const [r, n] = splitDot(dot);
    return (cc?.[r] ?? 0) >= n;
  }

  /**
   * Whether a node other than `node` durably holds the write under `dot` or a dot it was re-issued under — or held it
   * when it sent a frame `node` received just now: the acknowledgement was true when sent, and what a restore of its
   * sender lost while it travelled is that restore's loss (the history's check), not an early `w.synced`.
   */
  heldElsewhere(node: string, key: string, dot: Dot): boolean {
    const now = this.cluster.clock.now();
    const d = this.deliveries.get(node);
    const justSent = (from: string, before: number) => d?.at === now && d.frames.some((f) => f.from === from && f.sentAt <= before);
    const volumes = [
      ...[...this.cluster.nodes.values()].filter((m) => m.name !== node).map((m) => m.disk),
      ...this.retired.filter((x) => x.node !== node && justSent(x.node, x.at)).map((x) => x.disk),
    ];
    return this.cluster.ledger.carriedChain(node, this.space, key, dot).some((c) => {
      const [r, n] = splitDot(c);
      return volumes.some((v) => v.durablySeen(this.space, key, r, n));
    });
  }
}
