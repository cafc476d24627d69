/**
 * Runs one schedule on a simulated cluster, then judges the outcome from the operation history (checks.ts):
 *
 *   - quiescence: after heal every link reaches 'synced', nothing in flight (within a virtual-time budget)
 *   - periodic repair: with an anti-entropy interval, every link runs a periodic round within a few intervals
 *   - convergence: every replica holds the same versions — same dots, the same value bytes under each dot, the
 *     same context — and reads show the same value, siblings and versions; no dot names two values anywhere
 *   - durability: a replica never sends a dot of its own before it is durable on its disk (watched on the wire)
 *   - history (ledger.ts): every resolved write is present with its value or superseded by a write that saw it
 *     (or lost with its only durable copy, by a restore or a dead disk); a write with a context supersedes only
 *     what that context covers; no collected delete comes back
 *   - counters count every resolved increment; an add-wins item added and never removed is present
 *   - a document holds every resolved edit (each written as a delta: schedule.ts Edit) and no marker never
 *     typed; versions and reads compare documents by content (doc-values.ts), not bytes
 *   - no frame over the limit, no unexpected `error` event
 *   - with a far-future peer: no honest replica's clock was pulled more than a minute past its wall clock
 *   - with narrow nodes (the withheld feature, schedule.ts): big keys left at the end are judged per group of nodes wide
 *     links join (checks.ts wideGroups); and after heal no leading instance counts pending a key whose writes of its own
 *     another node holds, nor says other than 'synced' when there is none (SIM_LIVENESS=1: in every family)
 *   - with peers of earlier releases beside nodes at 11 (SIM_SPEAKS=mixed): keys naming an epoch at the end are judged
 *     per group of nodes that links at protocol 11 join (checks.ts), as big keys are per wide group
 *
 * Returns the list of violations (empty when the schedule passes).
 */
import * as Y from 'yjs';
import { yjsValue, YJS_TYPE } from '../../adapters/yjs/index.js';
import { coversDot, decodeCausal, type Causal } from '../../lib/dvv.js';
import { merges, type Context, type WriteResult } from '../../lib/index.js';
import type { AddWinsSet, CounterValue } from '../../lib/merges/index.js';
import { ACK_LATEST } from '../../lib/sync/ack-policy.js';
import { decodeMessage, MsgType, PROTOCOL_VERSIONS, type Message } from '../../lib/sync/messages.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import type { Frame } from '../../lib/transport.js';
import type { KeyRecord } from '../../lib/storage.js';
import type { SyncHub } from '../../lib/sync/hub.js';
import { dropWorkingCopies, MIN_BYTES, setWorkingCopyFloor } from '../../lib/working-copies.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { SimDisk } from '../support/sim-disk.js';
import { DurabilityWatch } from './durability-watch.js';
import { checkHlcDrift, checkPeriodicAntiEntropy, checkState, isBig, narrowLimit, speaks11, type EditLog, type Increments, type ItemLog } from './checks.js';
import { prng, Rng, VirtualClock } from './clock.js';
import { Cluster, type Volume } from './cluster.js';
import { dotOf, versionDot, writeKey } from './ledger.js';
import { checkEnabled } from './pending.js';
import { DOC_TEXT } from './doc-values.js';
import type { Edit, Fault, Op, Schedule, Timed } from './schedule.js';
import { SyncedDurableCheck } from './synced-check.js';
import { ClaimsCheck } from './claims-check.js';

export const SPACE = 's';
/** Rejections our simulated network gives, reported by links as `error` events: expected. */
const NETWORK_ERRORS = /unreachable|partitioned|superseded by a newer open/;
/** Virtual ms after heal within which every link must be 'synced' (reconnect backoff is at most 1 s here). */
const SETTLE_BUDGET = 120_000;
/** A key state a narrow connection cannot carry (the withheld feature): reported, expected there. */
const WITHHELD = /is not sent on this link|was not received from/;
/** A key state naming an epoch, left out for a peer below protocol 11 (wire.ts): reported, expected beside such peers. */
const TAGGED_WITHHELD = /names an epoch, which the peer's protocol \(below 11\) cannot carry/;
/** The notice of a replica that learnt it was restored from an older copy: expected where restores happen. */
const RESTORE_NOTICE = /restored from a backup|its storage lost/;
/**
 * A failure the disk-full feature causes (SimDisk failNextCommit): the failed transactions, and one whose function ran
 * across the failure. Expected of operations and as error events where disks fill up; nothing of them was kept.
 */
const fullDiskError = (e: unknown): boolean => {
  const { code, message } = (e ?? {}) as { code?: string; message?: string };
  return code === 'STORAGE_FULL' || (code === 'STORAGE_ERROR' && /rolled back|trying again/.test(String(message)));
};

export interface RunOptions {
  /** Checks to apply (default: those not pending, see pending.ts). */
  periodicAntiEntropy?: boolean;
  hlcDrift?: boolean;
  syncedDurable?: boolean;
  /** The held-claims checks (claims-check.ts: pending, status, whenSynced, w.durability); default: see pending.ts. */
  claims?: boolean;
  /**
   * Storage-timing jitter (SimDisk `jitter`): every disk's reads, transactions and fsyncs complete after delays drawn
   * from a stream of their own (seed-derived; it shifts no other draw), so a seed explores another interleaving of
   * storage completions. Off (the default), every seed runs exactly as before.
   */
  jitter?: boolean;
  /** Called after the checks, before the cluster closes (for debugging a seed). */
  inspect?: (cluster: Cluster, problems: string[]) => Promise<void> | void;
  /**
   * Whether some disks tell a copy (default: half the single-instance nodes, drawn per seed and node). False: none,
   * as every schedule ran before storages could tell one; seeds recorded then replay as they were found.
   */
  copiesTold?: boolean;
  /**
   * Every node speaks protocol 11 as well ([5 … 11]), so its storage tags its dots with epochs once it met a peer at 11
   * (docs/design/epochs-build.md, items 1 and 6), earlier-release nodes of the schedule included. 'beside-earlier': the
   * schedule's peers of earlier releases (schedule.ts `speaks`) keep theirs, every other node speaks 11 — a key naming
   * an epoch is then judged per group of nodes links at 11 join (checks.ts) and its PROTOCOL reports are expected.
   * 'at-10': the schedule's peers of earlier releases keep theirs, every other node speaks [5 … 10] — what a default
   * schedule ran before 11 was announced (the residual of issue 10 at 10 replays so).
   * Default: SIM_SPEAKS=11 (true), SIM_SPEAKS=mixed ('beside-earlier') or SIM_SPEAKS=10 ('at-10') in the environment;
   * off, every node announces what the schedule says (its earlier releases; the others today's PROTOCOL_VERSIONS, 11
   * among them: 'beside-earlier' again). The schedule itself is not changed: recorded seeds replay.
   */
  speaks11?: boolean | 'beside-earlier' | 'at-10';
}

const SIM_SPEAKS: Record<string, RunOptions['speaks11']> = { '11': true, mixed: 'beside-earlier', '10': 'at-10' };

/** What every node announces under `speaks11`. */
export const SPEAKS_11: readonly number[] = [...new Set([...PROTOCOL_VERSIONS, EPOCH_DOTS])];

/** The versions each node announces (Cluster `speaks`) under `speaks11`. */
function speaksOf(s: Schedule, speaks11: boolean | 'beside-earlier' | 'at-10'): Record<string, readonly number[]> {
  if (!speaks11) return s.speaks;
  if (speaks11 === 'at-10') return Object.fromEntries(s.nodes.map((n) => [n, s.speaks[n] ?? SPEAKS_10]));
  return Object.fromEntries(s.nodes.map((n) => [n, (speaks11 === 'beside-earlier' ? s.speaks[n] : undefined) ?? SPEAKS_11]));
}

export interface RunResult {
  problems: string[];
  /** A digest of every frame sent (time, ends, bytes): equal digests mean the run replayed exactly. */
  digest: string;
  virtualMs: number;
  bytes: number;
  /** Frames sent, by message type (their first byte). */
  frameTypes: Record<number, number>;
  /** Log frames (CHANGES and LIVE) the durability check decoded, and those it could not (it skips them). */
  durabilityChecked: { changes: number; live: number; undecoded: number };
  /** How often each held-claim was observed and judged (claims-check.ts), when those checks ran. */
  claims?: ClaimsCheck['counts'];
  /** Transactions a full disk rejected (disk-full), on the disks the nodes have at the end. */
  fullFailed: number;
}

export async function runSchedule(s: Schedule, options: RunOptions = {}): Promise<RunResult> {
  // Documents here are small: in every other schedule each materialized one keeps its working copy (deltas.ts), so the
  // copies live through every fault; chosen by the seed's parity, which draws nothing from its streams.
  dropWorkingCopies();
  setWorkingCopyFloor(s.seed % 2 === 0 ? 0 : MIN_BYTES);
  const clock = new VirtualClock();
  const start = clock.now();
  let digest = 2166136261;
  const frameTypes: Record<number, number> = {};
  // `made`, not `cluster`: frames flow while the cluster is being made, and reading `cluster` then would throw inside
  // the network's tap (which once made a traced run differ from the plain one).
  const printer = process.env.SIM_TRACE ? trace(() => clock.now() - start, (node) => made?.node(node).ids ?? []) : undefined;
  const fsyncRng = new Rng(prng(s.seed ^ 0x5f5f5f5f));
  // Jitter's own stream, one fork per disk made (wiped disks included): half the completions at once, some after a
  // zero-delay timer, the rest after 1–8 microtasks.
  const jitterRng = new Rng(prng((s.seed ^ 0x2c1b3c6d) >>> 0));
  const jitter = (): { jitter: () => number } | undefined => {
    if (!options.jitter) return undefined;
    const r = jitterRng.fork();
    return { jitter: () => (r.chance(0.5) ? 0 : r.chance(0.2) ? -1 : r.int(1, 8)) };
  };
  // Watches every frame from the first hello on (links dial while the cluster is being made).
  const leaked: string[] = [];
  let made: Cluster | undefined;
  let synced: SyncedDurableCheck | undefined; // made with the cluster; frames flow before
  let claims: ClaimsCheck | undefined; // likewise; instances opened before it are attached once it is made
  const openedEarly: Array<Parameters<ClaimsCheck['attach']>> = [];
  const watch = new DurabilityWatch((node) => made?.node(node).disk, () => made?.ledger.epochs ?? NO_EPOCHS);
  const cluster = await Cluster.create({
    clock,
    seed: s.seed,
    nodes: s.nodes,
    edges: s.edges,
    ...(s.spares.length ? { spareEdges: s.spares } : {}),
    relays: s.relays,
    sides: s.sides,
    tabs: s.tabs,
    collect: s.collect,
    skew: s.skew,
    sketches: s.sketches,
    speaks: speaksOf(s, options.speaks11 ?? SIM_SPEAKS[process.env.SIM_SPEAKS ?? ''] ?? false),
    disk: (node, c) => {
      const f = s.fsync[node];
      const r = fsyncRng.fork();
      // Half the single-instance nodes keep their data where a copy can be told (a file storage's directory); the
      // others as IndexedDB does, or a VM snapshot: there a restore stays unseen until a peer tells.
      const tellsCopies = options.copiesTold !== false && !s.tabs[node] && prng(s.seed ^ nameHash(node))() < 0.5;
      return new SimDisk({ timers: c, tellsCopies, ...(f ? { fsyncDelay: () => r.int(f.min, f.max) } : {}), ...jitter() });
    },
    merge: { 'c*': merges.counter, 'set*': merges.addWins },
    link: { antiEntropyInterval: s.antiEntropyInterval, backoff: { base: 20, max: 1000 } },
    net: {
      latency: s.latency,
      ...(s.maxFrameBytes ? { maxFrameBytes: s.maxFrameBytes } : {}),
      // The withheld feature: a narrow node's connections carry frames up to its limit (the lower of two).
      ...(Object.keys(s.narrow).length ? { edgeFrameBytes: (a: string, b: string) => narrowLimit(s, a, b) } : {}),
      tap: (from, to, frame, channel) => {
        for (const x of watch.check(from, to, frame, channel)) if (!leaked.includes(x)) leaked.push(x);
        const bytes = typeof frame === 'string' ? new TextEncoder().encode(frame) : frame;
        digest = fnv(digest, `${clock.now()}${from}${to}`);
        if (typeof frame !== 'string') frameTypes[frame[0]!] = (frameTypes[frame[0]!] ?? 0) + 1;
        for (const b of bytes) digest = Math.imul(digest ^ b, 16777619) >>> 0;
        printer?.(from, to, frame);
      },
      delivered: (from, to, frame, sentAt) => {
        synced?.delivered(from, to, frame, sentAt);
        claims?.observeAll();
      },
    },
    opened: (...a) => (claims ? claims.attach(...a) : openedEarly.push(a)),
  });
  made = cluster;
  synced = new SyncedDurableCheck(cluster, SPACE, clock.now());
  if (printer) process.stderr.write(`${(clock.now() - start).toFixed(1)} the schedule's time 0\n`);
  if (process.env.SIM_TRACE) for (const n of cluster.nodes.values()) process.stderr.write(`${n.name} = ${n.r.replicaId}\n`);
  const pending: Promise<unknown>[] = [];
  const held = new Map<string, { context: Context; saw: Causal }>(); // node/tab/key → a read earlier
  const increments = new Map<string, Increments>();
  const items = new Map<string, ItemLog>();
  let valueSeq = 0;
  let healed = false;

  // The synced-durable check runs in CI on every schedule ('synced-durable-kept-disks' alone limits it to those that
  // replace no disk, should an entry of pending.ts switch 'synced-durable' off again).
  const replacesDisk = s.faults.some((f) => f.what.kind === 'restore' || f.what.kind === 'wipe');
  const checksSynced = options.syncedDurable ?? (checkEnabled('synced-durable') || (!replacesDisk && checkEnabled('synced-durable-kept-disks')));
  // The other claims that a write is held (claims-check.ts), on schedules that restore no disk from a copy (a disk lost
  // outright is judged as synced-durable judges it: by the acknowledgements its node sent before it went); in CI only
  // where no power fails either (pending.ts).
  const powerLoss = s.faults.some((f) => f.what.kind === 'crash');
  const restores = s.faults.some((f) => f.what.kind === 'restore');
  if (options.claims ?? (!restores && (checkEnabled('held-claims') || (!powerLoss && checkEnabled('held-claims-no-power-loss'))))) {
    claims = new ClaimsCheck(cluster, synced, SPACE, clock.now());
    for (const a of openedEarly.splice(0)) claims.attach(...a);
  }
  const runOp = async ({ node, what: op, tab = 0 }: Timed<Op>, index: number) => {
    const n = cluster.node(node);
    const r = n.tab(tab);
    if (!r) return;
    const space = r.space(SPACE);
    const short = `${node}#${index}:${++valueSeq}`;
    // A big value (the withheld feature) is named by its start and size in what the checks print.
    const big = op.kind === 'put' && op.bytes ? op.bytes : 0;
    const value = big ? `${short}~${'x'.repeat(big)}` : short;
    const shown = big ? `${short}~(${big} bytes)` : value;
    const slot = `${node}/${tab % n.tabs.length}/${op.key}`;
    // The dot a write was stored under, as the ledger's spy saw it (the replica may have re-identified since).
    const dotOfWrite = (w: { seq: number }) => (w.seq > 0 ? (cluster.ledger.dotOfWrite(node, SPACE, op.key, w.seq) ?? dotOf(r.replicaId, w.seq)) : undefined);
    const claimed = op.kind === 'get' ? undefined : claims?.issuing(r);
    const note = async (w: WriteResult, what: string, mayCover?: Causal) => {
      const dot = dotOfWrite(w);
      if (!dot) return;
      claimed?.(op.key, dot, `${what} (op ${index})`, w);
      cluster.ledger.record({ node, space: SPACE, key: op.key, dot, what: `${what} (op ${index})`, ...(mayCover ? { mayCover } : {}) });
      // w.synced: a relay or peer holds it — durably, at that instant (synced-check.ts).
      if (checksSynced) synced.watch(node, op.key, dot, `${what} (op ${index})`, w.synced);
    };
    switch (op.kind) {
      case 'put':
        return note(await space.put(op.key, value), `put ${op.key}=${shown}`);
      case 'get': {
        // A read that finds nothing holds an empty context: a write with it later creates the key concurrently
        // with whatever was written meanwhile (read absent, wait, create).
        const got = await space.get(op.key);
        // At protocol 11 a context may name epochs (`r:n@e`): the ledger judges what it covers by its points and the
        // epochs' ancestry (decodeCausal: the vector and the points).
        held.set(slot, got ? { context: got.context, saw: decodeCausal(got.context) ?? { cc: {} } } : { context: '' as Context, saw: { cc: {} } });
        return;
      }
      case 'putCtx': {
        const read = held.get(slot);
        return note(await space.put(op.key, value, read ? { context: read.context } : undefined), `put ${op.key}=${value}${read ? ' with context' : ''}`, read?.saw);
      }
      case 'delete': {
        const read = op.withCtx ? held.get(slot) : undefined;
        return note(await space.delete(op.key, read ? { context: read.context } : undefined), `delete ${op.key}${read ? ' with context' : ''}`, read?.saw);
      }
      case 'incr': {
        const c = increments.get(op.key) ?? { resolved: [], afterRestore: [], attempted: 0 };
        increments.set(op.key, c);
        c.attempted++;
        const w = await space.update<CounterValue>(op.key, (v) => merges.counter.increment(v, r.replicaId, 1));
        c.resolved.push(dotOfWrite(w) ?? '');
        if (restored.has(node)) c.afterRestore.push(dotOfWrite(w) ?? '');
        return note(w, `increment ${op.key}`);
      }
      case 'add': {
        const it = items.get(op.item) ?? { added: [], removed: [], addTried: false, addsTried: 0, removeTried: false, removesTried: 0 };
        items.set(op.item, it);
        it.addTried = true;
        it.addsTried++;
        const w = await space.update<AddWinsSet<string>>(op.key, (v) => merges.addWins.add(v, r.replicaId, op.item));
        it.added.push(dotOfWrite(w) ?? '');
        return note(w, `add ${op.item} to ${op.key}`);
      }
      case 'remove': {
        const it = items.get(op.item) ?? { added: [], removed: [], addTried: false, addsTried: 0, removeTried: false, removesTried: 0 };
        items.set(op.item, it);
        it.removeTried = true;
        it.removesTried++;
        const w = await space.update<AddWinsSet<string>>(op.key, (v) => merges.addWins.remove(v, op.item));
        it.removed.push(dotOfWrite(w) ?? '');
        return note(w, `remove ${op.item} from ${op.key}`);
      }
    }
  };

  // A document edit: one marker inserted into the key's document as this write's transaction reads it, written
  // as a delta against the key's live versions (whole when it has none), as concord/yjs's openDoc writes.
  const edits = new Map<string, EditLog>();
  const runEdit = async ({ node, what, tab = 0 }: Timed<Edit>, index: number) => {
    const n = cluster.node(node);
    const r = n.tab(tab);
    if (!r) return;
    const log = edits.get(what.key) ?? { resolved: [], attempted: new Set<string>() };
    edits.set(what.key, log);
    const marker = String.fromCharCode(0x4e00 + index); // one UTF-16 unit per edit: an insert never splits one
    log.attempted.add(marker);
    const claimed = claims?.issuing(r);
    const w = await r.space(SPACE).writeWith(what.key, (cur, read) => {
      const doc = new Y.Doc();
      doc.clientID = 1 + index; // one Yjs client per edit, fixed by the schedule: runs replay byte for byte
      const value = read()?.value;
      if (value instanceof Uint8Array) Y.applyUpdate(doc, value);
      let delta: Uint8Array | undefined;
      doc.on('update', (u: Uint8Array) => (delta = u));
      const t = doc.getText(DOC_TEXT);
      t.insert(Math.floor(what.at * (t.length + 1)), marker);
      return cur && cur.vs.some((v) => !v.d) ? { delta: delta!, type: YJS_TYPE } : { value: yjsValue(Y.encodeStateAsUpdate(doc)) };
    });
    const dot = w.seq > 0 ? (cluster.ledger.dotOfWrite(node, SPACE, what.key, w.seq) ?? dotOf(r.replicaId, w.seq)) : undefined;
    if (!dot) return;
    log.resolved.push({ marker, dot, afterRestore: restored.has(node) });
    claimed?.(what.key, dot, `edit ${what.key} +${marker} (edit ${index})`, w);
    cluster.ledger.record({ node, space: SPACE, key: what.key, dot, what: `edit ${what.key} +${marker} (edit ${index})` });
  };

  const fillsDisks = s.faults.some((f) => f.what.kind === 'full');
  const opErrors: string[] = [];
  const track = (p: Promise<unknown>, what: string) =>
    pending.push(
      p.catch((e: unknown) => {
        // A replica closed under a running op (a restart, a crash) rejects it: that write did not resolve.
        // So does a full disk (the disk-full feature): its transaction failed, nothing of it was kept.
        if ((e as { code?: string }).code !== 'CLOSED' && !(fillsDisks && fullDiskError(e))) opErrors.push(`${what}: ${String(e)}`);
      }),
    );
  const after = (ms: number) => new Promise<void>((resolve) => cluster.clock.setTimeout(resolve, ms));

  // A node's lifecycle faults (stop, start, swapping its disk, tabs) run one at a time per node: a restore
  // whose stop waits for an fsync must not swap the disk under a wipe that already started the node again.
  const locks = new Map<string, Promise<unknown>>();
  const exclusive = <T>(node: string, fn: () => Promise<T>): Promise<T> => {
    const p = (locks.get(node) ?? Promise.resolve()).then(fn, fn);
    locks.set(node, p.catch(() => {}));
    return p;
  };

  /** The node's disk is replaced by `disk` (an older copy, or an empty one); what only the old one held is lost. */
  /** Nodes whose disk was restored from an older copy (their later counter increments: see checks.ts Increments). */
  const restored = new Set<string>();
  const replaceDisk = async (node: string, disk: () => Volume, why: string, down: number, isolate: number) => {
    if (why === 'restore') restored.add(node);
    await exclusive(node, async () => {
      await cluster.stop(node);
      const old = cluster.node(node).disk;
      cluster.node(node).disk = disk();
      cluster.ledger.diskReplaced(node);
      synced.diskReplaced(node, old, why);
      await after(0);
      forgiveLost(cluster, old, `lost with ${node}'s ${why}`);
    });
    await after(down);
    const cut = isolate > 0 && !healed;
    if (cut) cluster.net.isolate(node);
    await exclusive(node, () => cluster.start(node));
    if (cut) {
      await after(isolate);
      if (!healed) cluster.net.rejoin(node);
    }
  };

  s.ops.forEach((op, i) => cluster.clock.setTimeout(() => track(runOp(op, i), `op ${i} ${op.what.kind}`), op.at));
  s.edits.forEach((e, i) => cluster.clock.setTimeout(() => track(runEdit(e, i), `edit ${i}`), e.at));
  s.faults.forEach((f) => {
    const w = f.what;
    if (w.kind === 'restore') {
      let copy: Volume | undefined;
      cluster.clock.setTimeout(() => (copy = cluster.node(w.node).disk.copy()), w.backupAt);
      cluster.clock.setTimeout(() => track(replaceDisk(w.node, () => copy!.copy(), 'restore', w.down, w.isolate), `restore ${w.node}`), f.at);
      return;
    }
    cluster.clock.setTimeout(() => {
      if (w.kind === 'drop') cluster.net.drop(w.a, w.b);
      else if (w.kind === 'partition') {
        cluster.net.partition(w.side);
        cluster.clock.setTimeout(() => cluster.net.heal(), w.heal);
      } else if (w.kind === 'away') {
        cluster.net.isolate(w.node);
        cluster.clock.setTimeout(() => cluster.net.rejoin(w.node), w.for);
      } else if (w.kind === 'collect') track(cluster.collect(w.node), `collect on ${w.node}`);
      else if (w.kind === 'wipe') track(replaceDisk(w.node, () => new SimDisk({ timers: cluster.clock, ...jitter() }), 'disk', w.down, w.isolate ?? 0), `wipe ${w.node}`);
      else if (w.kind === 'tab') {
        track(exclusive(w.node, () => cluster.closeTab(w.node, w.tab)), `close tab ${w.node}/${w.tab}`);
        cluster.clock.setTimeout(() => track(exclusive(w.node, () => cluster.openTab(w.node, w.tab)), `open tab ${w.node}/${w.tab}`), w.down);
      } else if (w.kind === 'unlink' || w.kind === 'twin' || w.kind === 'move') relinkFault(w);
      else if (w.kind === 'full') {
        const disk = cluster.node(w.node).disk;
        if (disk instanceof SimDisk) disk.failNextCommit(w.commits);
      } else if (cluster.node(w.node).up) {
        // Power fails at once; the stop that follows waits its turn.
        if (w.kind === 'crash') cluster.node(w.node).disk.crash();
        track(exclusive(w.node, () => cluster.stop(w.node)), `${w.kind} ${w.node}`);
        cluster.clock.setTimeout(() => track(exclusive(w.node, () => cluster.start(w.node)), `start ${w.node}`), w.down);
      }
    }, f.at);
  });

  // The relink feature (relink-faults.ts): links the application closes and opens, until heal (which links every edge
  // again, keeps the twins the schedule keeps and closes the other spares: relinkAtHeal).
  const later = (ms: number, fn: () => void) => (ms === 0 ? fn() : cluster.clock.setTimeout(() => healed || fn(), ms));
  const relinkFault = (w: Extract<Fault, { kind: 'unlink' | 'twin' | 'move' }>) => {
    if (healed) return;
    if (w.kind === 'unlink') {
      if (cluster.unlink(w.node, w.peer)) later(w.gap, () => cluster.relink(w.node, w.peer));
    } else if (w.kind === 'twin') {
      cluster.openSpare(w.spare, w.keep);
      later(w.for, () => {
        if (!w.closeFirst) return w.keep || cluster.closeSpare(w.spare);
        if (cluster.unlink(w.node, w.peer)) later(w.gap, () => cluster.relink(w.node, w.peer));
        if (!w.keep) later(w.gap + w.for, () => cluster.closeSpare(w.spare));
      });
    } else if (cluster.unlink(w.node, w.from)) {
      cluster.openSpare(w.spare);
      if (w.for !== undefined) later(w.for, () => (cluster.closeSpare(w.spare), cluster.relink(w.node, w.from)));
    }
  };
  const relinkAtHeal = () => {
    for (const f of s.faults) {
      const w = f.what;
      if (w.kind === 'move' || (w.kind === 'twin' && !w.keep)) cluster.closeSpare(w.spare);
      else if (w.kind === 'twin') cluster.openSpare(w.spare, true);
    }
    for (const name of cluster.names) cluster.relink(name);
  };

  const problems: string[] = [];
  const periodic: string[] = [];
  try {
    await cluster.clock.advance(s.duration + s.tail);
    // Heal: no cut, every node up, every op finished.
    healed = true;
    cluster.net.heal();
    // Full disks get room again (a node's open, which writes, would fail on one: an application tries again later).
    for (const n of cluster.nodes.values()) if (n.disk instanceof SimDisk) n.disk.room();
    while (pending.length) await cluster.drive(Promise.all(pending.splice(0)));
    for (const name of cluster.names) await cluster.drive(exclusive(name, () => cluster.start(name)));
    relinkAtHeal();
    let settled = true;
    try {
      await cluster.settle(SETTLE_BUDGET);
    } catch (e) {
      settled = false;
      problems.push(String((e as Error).message));
    }
    if (settled && s.shrinkAtEnd) {
      // The withheld feature: every node holding a big version of a key writes the key small (superseding what it
      // holds): every such state may go everywhere, so everything converges and no write stays pending.
      let index = s.ops.length;
      for (const name of cluster.names) {
        for (const [key, rec] of cluster.node(name).disk.records(SPACE)) {
          if (!rec.vs.some(isBig)) continue;
          track(runOp({ at: 0, node: name, what: { kind: 'put', key }, tab: cluster.node(name).leader ?? 0 }, index++), `small again ${name} ${key}`);
        }
      }
      while (pending.length) await cluster.drive(Promise.all(pending.splice(0)));
      try {
        await cluster.settle(SETTLE_BUDGET);
      } catch (e) {
        settled = false;
        problems.push(`after the big keys were written small: ${String((e as Error).message)}`);
      }
    }
    if (settled && s.antiEntropyInterval > 0) {
      // Periodic repair: a few intervals after heal, every link ran a round; then everything is quiet again.
      const from = cluster.clock.now();
      await cluster.clock.advance(3 * s.antiEntropyInterval + 1000);
      try {
        await cluster.settle(SETTLE_BUDGET);
      } catch (e) {
        problems.push(`after the periodic anti-entropy window: ${String((e as Error).message)}`);
      }
      if (options.periodicAntiEntropy ?? checkEnabled('periodic-anti-entropy')) periodic.push(...checkPeriodicAntiEntropy(cluster, from));
    }
    const liveness = s.features.includes('withheld') || s.features.includes('relink') || !!process.env.SIM_LIVENESS;
    if (settled && liveness) {
      // Quiet is not yet done: a peer acknowledges a log frame that holds no write of its sender's current id up to
      // ACK_LATEST later (ack-policy.ts), and a frame holding only writes its sender made under an earlier id (a relay's
      // id before its restart, a restored replica's before it re-identified) is one. The count waiting on that ACK is
      // judged once it is due.
      await cluster.clock.advance(ACK_LATEST + 1);
      try {
        await cluster.settle(SETTLE_BUDGET);
      } catch (e) {
        settled = false;
        problems.push(`after the deferred acknowledgements were due: ${String((e as Error).message)}`);
      }
    }
    // The checks read replicas with no clock stepping: storage completes at once from here on.
    calm(cluster);
    problems.push(...leaked.slice(0, 5));
    claims?.observeAll();
    problems.push(...synced.violations);
    problems.push(...(claims?.violations ?? []));
    problems.push(...opErrors);
    problems.push(...cluster.net.violations);
    for (const n of cluster.nodes.values()) {
      for (const e of n.errors) {
        const text = String((e as Error)?.message ?? e);
        if (NETWORK_ERRORS.test(text) || RESTORE_NOTICE.test(text) || (e as { code?: string }).code === 'CLOSED') continue;
        if (fillsDisks && fullDiskError(e)) continue;
        if (Object.keys(s.narrow).length && (e as { code?: string }).code === 'VALUE_TOO_LARGE' && WITHHELD.test(text)) continue;
        // A key naming an epoch, not sent to a peer of an earlier release (wire.ts): expected beside such peers.
        if ((e as { code?: string }).code === 'PROTOCOL' && TAGGED_WITHHELD.test(text) && cluster.names.some((m) => !speaks11(cluster, m))) continue;
        problems.push(`${n.name} error event: ${String(e)}`);
      }
    }
    if (settled && liveness) problems.push(...checkNothingHeldPending(cluster, s.shrinkAtEnd));
    if (problems.length === 0) problems.push(...(await checkState(cluster, s, increments, items, edits)));
    // Missing periodic rounds are reported after the state, so they do not hide what went wrong there.
    problems.push(...periodic);
    if (problems.length === 0 && s.farFuture && (options.hlcDrift ?? checkEnabled('hlc-drift'))) problems.push(...(await checkHlcDrift(cluster, s)));
    await options.inspect?.(cluster, problems);
  } finally {
    calm(cluster);
    await cluster.close();
  }
  let bytes = 0;
  for (const name of cluster.names) for (const t of cluster.transportsOf(name)) bytes += t.stats.bytes;
  const fullFailed = [...cluster.nodes.values()].reduce((sum, n) => sum + (n.disk instanceof SimDisk ? n.disk.failedCommits : 0), 0);
  return { problems, fullFailed, digest: digest.toString(16), virtualMs: cluster.clock.now() - start, bytes, frameTypes, durabilityChecked: watch.counts, ...(claims ? { claims: claims.counts } : {}) };
}

/**
 * Resolved writes the replaced disk held and no disk holds any more (the restore lost their only copy) may be
 * missing at the end, and so may the writes they superseded that no disk holds either (their effect, say an
 * increment, lived on only in the lost write). A write missing already before the restore is not forgiven:
 * something else lost it. A copy that another disk's record outranks (Ledger.outranks: its context covers the dot,
 * without the version) holds nothing: it is dropped wherever it meets that record — a restored copy's stale version
 * of a write the lost one superseded, where a peer kept only the context of the lost state (a peer below 11 gets a
 * state naming an epoch as its context alone: restore-replica 99 jittered, SIM_SPEAKS=mixed).
 */
export function forgiveLost(cluster: Cluster, old: Volume, why: string): void {
  // By write (dot, HLC and value): after a restore one dot may name two writes, and only one may be held elsewhere.
  const before = new Map<string, string>(); // write → dot
  for (const [, rec] of old.records(SPACE)) for (const v of rec.vs) before.set(writeKey(v), versionDot(v));
  // Held durably elsewhere: a copy another node only applied (not yet durable) may still be lost in a crash.
  const disks = [...cluster.nodes.values()].map((n) => new Map(n.disk.durableRecords(SPACE)));
  const outranked = (key: string, v: KeyRecord['vs'][number]) => disks.some((d) => ((rec) => rec !== undefined && cluster.ledger.outranks(rec, v))(d.get(key)));
  const held = new Set<string>();
  for (const d of disks) for (const [key, rec] of d) for (const v of rec.vs) if (!outranked(key, v)) held.add(writeKey(v));
  // Superseded writes by write too: the dot a lost write superseded may be held elsewhere for another write (a dot
  // minted again after an earlier restore, even with the same value), which does not hold that write.
  const lost = [...before.keys()].filter((k) => !held.has(k));
  const seen = new Set<string>();
  const forgiven = new Set<string>();
  while (lost.length) {
    const k = lost.pop()!;
    if (seen.has(k)) continue;
    seen.add(k);
    forgiven.add(k.split('\u0000')[0]!);
    for (const x of cluster.ledger.supersededWrites(k)) if (!held.has(x)) lost.push(x);
  }
  // By dot: a write still resolving (waiting for its fsync) when the disk went is forgiven as well.
  for (const d of forgiven) cluster.ledger.forgive(d, why);
}

/** Storage jitter off on every node's disk (a plain volume has none). */
function calm(cluster: Cluster): void {
  for (const n of cluster.nodes.values()) if (n.disk instanceof SimDisk) n.disk.calm();
}

/** 32-bit FNV-1a over a string, continuing from `h`. */
function fnv(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** SIM_TRACE=1: every frame, decoded in 10's form, on stderr (with the virtual time); SIM_TRACE_DECODED=1 adds the durability watch's reading (11's too). */
function trace(now: () => number, ids?: (node: string) => string[]) {
  return (from: string, to: string, frame: Frame) => {
    let m: Message | undefined;
    // Frames after the hellos use the session's string table (the two replica ids, the sender's first): try
    // every pair the two nodes have had.
    const tables: Array<string[] | undefined> = [undefined];
    for (const x of ids?.(from) ?? []) for (const y of ids?.(to) ?? []) tables.push([x, y]);
    for (const table of tables) {
      try {
        m = decodeMessage(frame, { maxValueBytes: 1 << 20, table });
        break;
      } catch {
        // the next table
      }
    }
    if (!m) {
      // LIVE frames (type 11, 13) need their connection's state as well (conn-table.ts; DurabilityWatch keeps it).
      const what = typeof frame === 'string' ? 'text' : `type ${frame[0]}`;
      process.stderr.write(`${now().toFixed(1)} ${from}->${to} (${what}, ${typeof frame === 'string' ? frame.length : frame.byteLength} bytes, needs the session's string table)\n`);
      return;
    }
    const { type, ...rest } = m as Message & Record<string, unknown>;
    const body = JSON.stringify(rest, (k, v) => (k === 'vs' ? (v as Array<{ r: string; n: number; d?: 1 }>).map((x) => `${x.r.slice(0, 3)}:${x.n}${x.d ? 'd' : ''}`) : v));
    process.stderr.write(`${now().toFixed(1)} ${from}->${to} ${type} ${body.slice(0, Number(process.env.SIM_TRACE_WIDTH ?? 300))}\n`);
  };
}

/** A node name as a number, to seed what is drawn per node without drawing from the schedule's generators. */
function nameHash(name: string): number {
  let h = 0x9e3779b9;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/**
 * The withheld feature, after heal and settling: an instance counts pending no more keys than hold a write of its own
 * (under any id its node had) that no other node durably holds — a write another node holds (its link did not withhold it) is not
 * kept pending by the links that withheld it — and says 'synced' when there is none.
 */
function checkNothingHeldPending(cluster: Cluster, shrunk: boolean): string[] {
  const problems: string[] = [];
  for (const n of cluster.nodes.values()) {
    // The leader only: the simulated disk gives its instances no shared port (lib/storage.ts shared), so a tab that does
    // not lead hears no acknowledgement and shows 'offline' (lib/sync/tabs.ts: an instance without links).
    n.tabs.forEach((r, tab) => {
      if (!r || r.core.isClosed || tab !== n.leader) return;
      // Its writes under every id the node had: a replica re-identified after a restore keeps the versions it wrote under
      // the old id up to the restore point (only later ones are re-issued), and one that no other node holds (a big
      // write no link could carry) is a local write nobody acknowledged — counting it claims nothing false.
      const ids = new Set([...n.ids, r.replicaId]);
      const others = [...cluster.nodes.values()].filter((m) => m !== n).map((m) => new Map(m.disk.durableRecords(SPACE)));
      const unheld: string[] = [];
      for (const [key, rec] of n.disk.records(SPACE)) {
        const mine = rec.vs.filter((v) => ids.has(v.r));
        if (mine.some((v) => !others.some((o) => coversDot(cluster.ledger.epochs, o.get(key) ?? { cc: {} }, v.r, v.ep, v.n)))) unheld.push(key);
      }
      const name = `${n.name}${n.tabs.length > 1 ? ` (tab ${tab})` : ''}`;
      if (r.pending > unheld.length) problems.push(`${name} counts ${r.pending} keys pending after heal, but only ${unheld.length} hold a write of its own no other node holds${unheld.length ? ` (${unheld.join(', ')})` : ''}`);
      // (A relay dials no link: it says 'offline'.)
      // Keys a peer told it could not send (lib/sync/lacks.ts): each truly lacked (its disk does not cover the dots), none
      // of a peer a link runs to once every big key was written small, and while any such stays the status is not
      // 'synced'. (Lacks of a peer no link runs to — a relay's id before its restart, on a link since closed — are kept,
      // uncounted, for a link to it that would resume past their keys: rev48a.)
      const hub = (r as unknown as { hub: SyncHub }).hub;
      const counted = hub.countedLacks().length;
      const linked = new Set(hub.countedLacks().map(([peer]) => peer));
      const records = new Map(n.disk.records(SPACE));
      for (const [peer, , key, dots] of hub.lacks.list()) {
        const rec = records.get(key) ?? { cc: {} };
        if (dots.every((d) => coversDot(cluster.ledger.epochs, rec, d.r, d.e === '' ? undefined : d.e, d.n))) problems.push(`${name} counts ${key} lacked from ${peer} though it holds what was told`);
        else if (shrunk && linked.has(peer)) problems.push(`${name} counts ${key} lacked from ${peer} after every big key was written small`);
      }
      if (counted > 0 && r.status === 'synced') problems.push(`${name} says 'synced' while it lacks ${counted} keys`);
      else if (unheld.length === 0 && counted === 0 && r.status !== 'synced' && !cluster.isRelay(n.name)) problems.push(`${name} says '${r.status}' after heal though every write of its own is held elsewhere and it lacks nothing`);
    });
  }
  return problems;
}
