/**
 * The synced-durable check (run-schedule.ts): when a write's `w.synced` resolves, some OTHER node's disk durably
 * holds the write — its durable record of the key has a context covering the write's dot — at that instant (a power
 * loss there now must not lose it). The write's dot is the one it was stored under, or one it was carried on as since:
 * a re-identification of its replica re-issued it (lib/reidentify.ts: `w.synced` then waits for the re-issued version,
 * lib/acks.ts reissued), and the local writes that superseded it on the way (carried.ts).
 *
 * What a restore of the holder loses after it acknowledged is that restore's loss (the history's check), not an early
 * `w.synced`: an acknowledgement its sender sent before a restore or a wipe took its disk is judged by that disk.
 *
 * SIM_SYNCED_DEBUG=1 adds to each violation what helps to tell its cause.
 */
import { MsgType } from '../../lib/sync/messages.js';
import type { Frame } from '../../lib/transport.js';
import type { Causal } from '../../lib/dvv.js';
import type { Cluster, Volume } from './cluster.js';
import type { CarriedState } from './carried.js';
import { splitDot, versionDot, type Dot } from './ledger.js';

/**
 * Frames that acknowledge the receiver's log: ACKs, anti-entropy frames (a run's end confirms what it repaired), and the
 * hellos and SYNCs whose per-space cursors (and `seen`) tell how far the sender holds the receiver's log — the engine
 * counts those as acknowledgements too (a session's catch-up starts from them), so an early `w.synced` may rest on one.
 * And the frames carrying the sender's states (CHANGES, LIVE): a state that, joined, leaves the receiver's record as it
 * is and holds every version of its own there shows the sender holds those writes — a state leaves its replica only
 * once durable — and the engine counts it so (acks.ts `shownHeldBy`).
 */
// LIVE_CLEARED is a LIVE frame (its sender cleared the string table first) and PART frames carry a state too large for
// one: their states are joined, and counted, as any other's.
const ACKNOWLEDGING: ReadonlySet<number> = new Set([
  MsgType.Ack,
  MsgType.AntiEntropy,
  MsgType.Hello,
  MsgType.Sync,
  MsgType.Changes,
  MsgType.Live,
  MsgType.LiveCleared,
  MsgType.Part,
]);

/** Violations reported at most (the first ones tell the story). */
const MAX_REPORTED = 5;

export class SyncedDurableCheck {
  readonly violations: string[] = [];
  /** Disks replaced so far, as text (for SIM_SYNCED_DEBUG). */
  private readonly replaced: string[] = [];
  /** Disks nodes had until a restore or a wipe replaced them, with the virtual time they went. */
  private readonly retired: Array<{ node: string; disk: Volume; at: number }> = [];
  /**
   * Per receiving node, the acknowledgements delivered to it (ACKNOWLEDGING), with their sender and the virtual times
   * they were sent and delivered.
   */
  private readonly acks = new Map<string, Array<{ from: string; sentAt: number; at: number }>>();

  /** `start`: the virtual time the schedule's times count from (violations name the time as the schedule does). */
  constructor(
    private readonly cluster: Cluster,
    private readonly space: string,
    private readonly start: number,
  ) {}

  /** `node`'s disk `old` was replaced (`why`: restore, disk). */
  diskReplaced(node: string, old: Volume, why: string): void {
    this.replaced.push(`${why} of ${node} @${this.now()}`);
    this.retired.push({ node, disk: old, at: this.cluster.clock.now() });
  }

  /** The network delivered to `to` a frame `from` sent at `sentAt` (virtual time). */
  delivered(from: string, to: string, frame: Frame, sentAt: number): void {
    if (typeof frame === 'string' || !ACKNOWLEDGING.has(frame[0]!)) return;
    const list = this.acks.get(to) ?? [];
    this.acks.set(to, list);
    list.push({ from, sentAt, at: this.cluster.clock.now() });
  }

  /** `node`'s write of `key` stored under `dot` (`what`: how to name it) resolved; judge it when `synced` does. */
  watch(node: string, key: string, dot: Dot, what: string, synced: Promise<void>): void {
    const at = this.now();
    const written = this.cluster.clock.now();
    void synced.then(() => {
      if (this.heldElsewhere(node, key, dot, written) || this.violations.length >= MAX_REPORTED) return;
      const chain = this.cluster.ledger.carried.chain(node, this.space, key, dot);
      const under = chain.length > 1 ? `, carried on as ${chain.slice(1).join(', ')}` : '';
      const more = process.env.SIM_SYNCED_DEBUG ? ` [written @${at}; ${this.debug(node, key, chain)}]` : '';
      this.violations.push(`${node}'s ${what} (${key}@${dot}${under}) was reported synced @${this.now()} while no other node held it durably${more}`);
    }, () => {});
  }

  /**
   * Whether a node other than `node` durably holds the write (resolved at `written`) under `dot` or a dot it was
   * carried on as — or held it on a disk it had when it sent `node` an acknowledgement after the write: a
   * restore or a wipe took that disk before `w.synced` resolved (the acknowledgement still travelling, or the writer
   * still storing what came with it).
   */
  heldElsewhere(node: string, key: string, dot: Dot, written: number): boolean {
    return this.holders(node, key, dot, written, 1) >= 1;
  }

  /**
   * How many nodes other than `node` hold the write as `heldElsewhere` says one does (each node once, by its disk now or
   * one a restore or a wipe took after it acknowledged); counting stops at `enough`.
   */
  holders(node: string, key: string, dot: Dot, written: number, enough = Infinity): number {
    const acked = (x: { node: string; at: number }) => (this.acks.get(node) ?? []).some((a) => a.from === x.node && a.sentAt >= written && a.sentAt <= x.at);
    const chain = this.cluster.ledger.carried.chain(node, this.space, key, dot);
    const states = this.cluster.ledger.carried.statesOf(node, this.space, key, chain);
    const holds = (v: Volume) => chain.some((d) => this.holds(v, key, d)) || states.some((s) => descends(v.durableRecords(this.space).find(([k]) => k === key)?.[1], s));
    let count = 0;
    for (const m of this.cluster.nodes.values()) {
      if (m.name === node) continue;
      const volumes = [m.disk, ...this.retired.filter((x) => x.node === m.name && acked(x)).map((x) => x.disk)];
      if (volumes.some(holds) && ++count >= enough) break;
    }
    return count;
  }

  private holds(v: Volume, key: string, dot: Dot): boolean {
    const [r, n, ep] = splitDot(dot);
    return v.durablySeen(this.space, key, r, n, ep, this.cluster.ledger.epochs);
  }

  private now(): number {
    return Math.round(this.cluster.clock.now() - this.start);
  }

  /** Which nodes applied the write without making it durable, the writer's record, disks that held it, ids. */
  private debug(node: string, key: string, chain: readonly Dot[]): string {
    const covers = (rec: Causal | undefined) => rec !== undefined && chain.some((d) => this.cluster.ledger.covers(rec, d));
    const recordOf = (list: Array<[string, { seq: number; cc: Readonly<Record<string, number>> }]>) => list.find(([k]) => k === key)?.[1];
    const applied = [...this.cluster.nodes.values()].filter((m) => m.name !== node && covers(recordOf(m.disk.records(this.space))));
    const own = this.cluster.node(node).disk;
    const retired = this.retired.filter((x) => chain.some((d) => this.holds(x.disk, key, d)));
    return [
      `applied, not durable, on: ${applied.map((m) => m.name).join(',') || '-'}`,
      `${node}'s record of ${key} at seq ${recordOf(own.records(this.space))?.seq ?? '-'} (durable: ${recordOf(own.durableRecords(this.space))?.seq ?? '-'})`,
      `retired disks that held it: ${retired.map((x) => `${x.node}'s until @${Math.round(x.at - this.start)}`).join(',') || '-'}`,
      `${node}'s ids ${this.cluster.node(node).ids.join(',')}`,
      `disks replaced: ${this.replaced.join(', ') || '-'}`,
    ].join('; ');
  }
}

/**
 * Whether `rec` descends from state `s` (joining `s` into it changes nothing): its context covers `s`'s, and every
 * version it holds that `s`'s context covers is one of `s`'s versions.
 */
function descends(rec: { vs: ReadonlyArray<{ r: string; n: number; ep?: string }>; cc: Readonly<Record<string, number>> } | undefined, s: CarriedState): boolean {
  if (!rec || Object.entries(s.cc).some(([r, n]) => (rec.cc[r] ?? 0) < n)) return false;
  return rec.vs.every((v) => (s.cc[v.r] ?? 0) < v.n || s.dots.includes(versionDot(v)));
}
