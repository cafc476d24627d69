/**
 * The held-claims checks (run-schedule.ts): the library tells an app that its writes are held by another node in four
 * ways besides `w.synced` (synced-check.ts), and each is judged here with that check's notion of "held": another
 * node's disk durably holds the write, or a later state of its key that saw it (SyncedDurableCheck.heldElsewhere:
 * the write's dot or one it was carried on as, carried.ts). Writes are the schedule's puts, deletes, counter and set
 * updates and document edits. They run on schedules that restore no disk from a copy (run-schedule.ts; pending.ts says
 * which CI leaves out): a disk lost outright is judged as synced-durable judges it, by the acknowledgements its node
 * sent before it went (a holder's), or by the id rule below (the writer's: it comes back as a new replica).
 *
 *   pending     `replica.pending === n` says at most n keys hold a local write no other node holds: an instance
 *               counting n while more keys hold such a write of its own is wrong (n = 0: every such write is).
 *   status      `replica.status === 'synced'` says nothing is pending (hub.ts: every link synced and pending 0;
 *               a tab that does not lead shows the leader's status, and never 'synced' while it counts a write).
 *   whenSynced  `replica.whenSynced()` resolving says every write made before the call is held — writes still
 *               being stored at the call included (it waits for them).
 *   durability  `w.durability` saying 'synced' (or 'replicated') says that write is held.
 *   replicated  `w.replicated(2)` resolving (and `w.durability` 'replicated', which follows it) says two relays hold the
 *               write: two nodes other than its writer hold it durably (one, beside a writer that is a relay itself).
 *               Called for every write; the simulator's relays run no cluster driver (adapters/relay/cluster.ts) and
 *               report no replication counts, so it never resolves here yet: the judgement waits for a relay that does.
 *
 * Which writes a claim of an instance covers: those made through it (once their put resolved: a write still in
 * flight does not count, except for whenSynced), and those of other instances on the node's disk that resolved at
 * an earlier virtual time — before it opened (its open reads the log) or while it was open (it hears of them by
 * the storage's hint, on the timers at once: pending.ts counts them then).
 *
 * When the claims are observed: an instance's 'pending' and 'status' events (the instant they change), right after
 * each write's put resolves (the writer's count must hold it), just before every frame is delivered (the effects of
 * the step before), when a whenSynced() called after each write resolves, and once more after heal. `w.durability`
 * of every write not yet seen saying 'synced' is read at each of those moments (a read has no effect on the run
 * while no relay reports replication counts, which the simulator's relays never do: so 'replicated' never shows
 * here, and is judged as 'synced' is, not as "two relays hold it").
 *
 * What is excused, and why:
 * - A write once seen held is not judged again: the claim that follows is true of it, and only tombstone
 *   collection (or a restore, on schedules this check does not run on) makes a holder stop holding it.
 * - Instances closed, or on a disk that lost power (a crashed process tells nobody anything), claim nothing. Their
 *   writes' `w.durability` is not read either: it stays as it was at the close.
 * - Writes of another instance resolving at the observation's own virtual time: the storage's hint of them may
 *   not have reached this instance yet.
 * - A write under a replica id the instance no longer writes as, and not re-issued under its id (carried.ts): a
 *   relay opens under a fresh id at each start (as createRelay does), and `pending` counts "versions this replica
 *   wrote" (pending.ts), by its id. Such writes are still streamed from the log; the new id claims nothing of them.
 * - A write whose key its own node collected, the collected tombstone's context covering the write (or a write it
 *   was carried on as): a tombstone is collected after its grace whether or not a peer holds it (DESIGN.md: tombstone
 *   GC), and the key's record then holds the delete as a context with no version of ours, which pending.ts does not
 *   count. The write lives on in that context (the history's check judges collected deletes); the claims say
 *   nothing of it.
 *
 * SIM_SYNCED_DEBUG=1 adds to each violation what helps to tell its cause (as synced-check.ts does).
 */
import type { Replica, WriteResult } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import type { Cluster } from './cluster.js';
import type { Causal } from '../../lib/dvv.js';
import type { Dot } from './ledger.js';
import type { SyncedDurableCheck } from './synced-check.js';

/** Violations reported at most (the first ones tell the story). */
const MAX_REPORTED = 5;

/** An open replica instance (a tab) of a node. */
interface Instance {
  node: string;
  tab: number;
  r: Replica;
  storage: StorageAdapter;
  /** Writes issued through it so far (whenSynced covers those issued before its call). */
  issued: number;
}

interface Write {
  node: string;
  via: Instance;
  /** Its index among the writes issued through `via`. */
  issue: number;
  key: string;
  dot: Dot;
  what: string;
  /** Virtual time its put resolved. */
  at: number;
  w: WriteResult;
  /** Seen durably held elsewhere at some observation: not judged again. */
  held: boolean;
  /** Its `w.durability` was judged (said 'synced' once: it stays so). */
  durabilityJudged: boolean;
  /** A violation named it already. */
  reported: boolean;
}

export type Claim = 'pending' | 'status' | 'whenSynced' | 'durability' | 'replicated';

export class ClaimsCheck {
  readonly violations: string[] = [];
  /** Observations and judgements made, per claim (how often each was observed saying "held"). */
  readonly counts: Record<Claim, number> = { pending: 0, status: 0, whenSynced: 0, durability: 0, replicated: 0 };
  private readonly instances: Instance[] = [];
  private readonly writes: Write[] = [];
  /** Writes not yet seen held or judged by their durability (shrinks as they are). */
  private open: Write[] = [];

  constructor(
    private readonly cluster: Cluster,
    private readonly synced: SyncedDurableCheck,
    private readonly space: string,
    private readonly start: number,
  ) {}

  /** A replica instance opened on `node` (tab `tab`) on the storage instance `storage`: its events are watched. */
  attach(node: string, tab: number, r: Replica, storage: StorageAdapter): void {
    const inst: Instance = { node, tab, r, storage, issued: 0 };
    this.instances.push(inst);
    r.on('pending', (n) => this.observe(inst, n, 'pending'));
    r.on('status', (s) => {
      if (s === 'synced') this.observe(inst, 0, 'status');
    });
  }

  /**
   * A write is being issued through `r` (call it just before the write's call: the write is in flight by the next
   * microtask, when the whenSynced() covering it is called). Returns what to call once its put resolved.
   */
  issuing(r: Replica): (key: string, dot: Dot, what: string, w: WriteResult) => void {
    const inst = this.instances.find((i) => i.r === r);
    if (!inst) return () => {};
    const issue = ++inst.issued;
    queueMicrotask(() => {
      if (!this.alive(inst)) return;
      const called = this.cluster.clock.now();
      let p: Promise<void>;
      try {
        p = inst.r.whenSynced();
      } catch {
        return; // closed meanwhile
      }
      p.then(
        () => this.alive(inst) && this.judge(inst, 0, 'whenSynced', (x) => (x.via === inst ? x.issue <= issue : x.node === inst.node && x.at < called)),
        () => {},
      );
    });
    return (key, dot, what, w) => {
      const write: Write = { node: inst.node, via: inst, issue, key, dot, what, at: this.cluster.clock.now(), w, held: false, durabilityJudged: false, reported: false };
      this.writes.push(write);
      this.open.push(write);
      // `w.replicated(2)` (and so `w.durability` 'replicated', which follows it) says two relays hold the write.
      void w.replicated(2).then(() => this.alive(inst) && this.judgeReplicated(write, 2));
      // Right after its put resolved: its writer counts it (nobody else can hold it yet), and says so.
      this.observe(inst, inst.r.pending, 'pending');
    };
  }

  /** Observes every live instance's count and status, and every write's durability (just before a frame is delivered, and after heal). */
  observeAll(): void {
    if (this.open.length === 0) return;
    for (const inst of this.instances) {
      if (!this.alive(inst)) continue;
      this.observe(inst, inst.r.pending, inst.r.status === 'synced' ? 'status' : 'pending', false);
    }
    this.sampleDurability();
  }

  private observe(inst: Instance, n: number, claim: 'pending' | 'status', sample = true): void {
    if (!this.alive(inst)) return;
    const now = this.cluster.clock.now();
    this.judge(inst, claim === 'status' ? 0 : n, claim, (x) => x.via === inst || (x.node === inst.node && x.at < now));
    if (sample) this.sampleDurability();
  }

  /**
   * `inst` claims (by `claim`) that at most `n` keys hold a write among `covers` that no other node durably holds:
   * judged now.
   */
  private judge(inst: Instance, n: number, claim: Claim, covers: (x: Write) => boolean): void {
    let unheld: Write[] | undefined;
    const id = inst.r.replicaId;
    for (const x of this.open) {
      if (x.held || x.reported || !covers(x) || !this.writtenAs(x, id)) continue;
      if (this.isHeld(x)) continue;
      (unheld ??= []).push(x);
    }
    this.counts[claim]++;
    if (!unheld) return;
    const keys = new Set(unheld.map((x) => x.key));
    if (keys.size <= n) return;
    for (const x of unheld) x.reported = true;
    if (this.violations.length >= MAX_REPORTED) return;
    const said = claim === 'pending' ? `replica.pending ${n}` : claim === 'status' ? "status 'synced'" : 'whenSynced() resolved';
    const what = unheld.map((x) => `${x.node}'s ${x.what} (${x.key}@${x.dot}${this.debug(x)})`).join('; ');
    const count = n > 0 ? ` (${keys.size} keys: ${[...keys].join(', ')})` : '';
    this.violations.push(`${inst.node}${this.tabName(inst)} said ${said} @${this.now()} while no other node held durably${count}: ${what}`);
  }

  /** `w.durability` of each write not yet judged by it: 'synced' or 'replicated' says it is held. */
  private sampleDurability(): void {
    let drop = false;
    for (const x of this.open) {
      if (x.durabilityJudged || !this.alive(x.via)) continue;
      const d = x.w.durability;
      if (d === 'local') continue;
      x.durabilityJudged = true;
      drop = true;
      this.counts.durability++;
      if (x.reported || this.isHeld(x)) continue;
      x.reported = true;
      if (this.violations.length < MAX_REPORTED) {
        this.violations.push(`${x.node}'s ${x.what} (${x.key}@${x.dot}) said w.durability '${d}' @${this.now()} while no other node held it durably${this.debug(x)}`);
      }
    }
    if (drop) this.open = this.open.filter((x) => !(x.durabilityJudged && (x.held || x.reported)));
  }

  /**
   * `x` was reported held by `n` relays (`w.replicated(n)` resolved): n nodes other than its writer hold it durably, or
   * n - 1 where the writer is a relay itself (a relay counts itself among the holders it reports).
   */
  private judgeReplicated(x: Write, n: number): void {
    this.counts.replicated++;
    const need = this.cluster.isRelay(x.node) ? n - 1 : n;
    const have = this.synced.holders(x.node, x.key, x.dot, x.at, need);
    if (have >= need || this.collectedByWriter(x) || this.violations.length >= MAX_REPORTED) return;
    this.violations.push(`${x.node}'s ${x.what} (${x.key}@${x.dot}) was reported replicated(${n}) @${this.now()} while ${have} other node${have === 1 ? '' : 's'} held it durably (${need} needed)${this.debug(x)}`);
  }

  private isHeld(x: Write): boolean {
    if (!x.held) x.held = this.synced.heldElsewhere(x.node, x.key, x.dot, x.at) || this.collectedByWriter(x);
    return x.held;
  }

  /** Whether the write was made under `id`, or carried on as a write under it (a re-issue, a later local write). */
  private writtenAs(x: Write, id: string): boolean {
    if (x.dot.startsWith(id + ':')) return true;
    return this.cluster.ledger.carried.chain(x.node, this.space, x.key, x.dot).some((d) => d.startsWith(id + ':'));
  }

  /** The write's node collected its key, with a context covering the write or a write it was carried on as. */
  private collectedByWriter(x: Write): boolean {
    const mine = this.cluster.ledger.collected.filter((c) => c.node === x.node && c.space === this.space && c.key === x.key);
    if (mine.length === 0) return false;
    const chain = this.cluster.ledger.carried.chain(x.node, this.space, x.key, x.dot);
    return mine.some((c) => chain.some((d) => this.cluster.ledger.covers(c, d)));
  }

  /** Open, and on a disk that did not lose power under it. */
  private alive(inst: Instance): boolean {
    return !inst.r.core.isClosed && (inst.storage as { readonly isOpen?: boolean }).isOpen !== false;
  }

  private tabName(inst: Instance): string {
    return this.cluster.node(inst.node).tabs.length > 1 ? ` (tab ${inst.tab})` : '';
  }

  private now(): number {
    return Math.round(this.cluster.clock.now() - this.start);
  }

  private debug(x: Write): string {
    if (!process.env.SIM_SYNCED_DEBUG) return '';
    const rec = (list: Array<[string, { seq: number }]>) => list.find(([k]) => k === x.key)?.[1].seq ?? '-';
    const disk = this.cluster.node(x.node).disk;
    const chain = this.cluster.ledger.carried.chain(x.node, this.space, x.key, x.dot);
    const covers = (list: Array<[string, Causal]>) => {
      const ctx = list.find(([k]) => k === x.key)?.[1];
      return ctx !== undefined && chain.some((d) => this.cluster.ledger.covers(ctx, d));
    };
    const others = [...this.cluster.nodes.values()].filter((m) => m.name !== x.node);
    const applied = others.filter((m) => covers(m.disk.records(this.space))).map((m) => m.name);
    const durable = others.filter((m) => covers(m.disk.durableRecords(this.space))).map((m) => m.name);
    return ` [written @${Math.round(x.at - this.start)} through ${x.via.node}${this.tabName(x.via)}; its record of ${x.key} at seq ${rec(disk.records(this.space))} (durable: ${rec(disk.durableRecords(this.space))}); others' records covering it: ${applied.join(',') || '-'} (durable: ${durable.join(',') || '-'}); carried on as ${chain.slice(1).join(',') || '-'}]`;
  }
}
