/**
 * Runs one schedule on a simulated cluster and checks the convergence property after heal:
 *
 *   - quiescence: every replica 'synced', nothing in flight (within a virtual-time budget)
 *   - same state: every replica holds the same keys with the same state hash (dots, tombstones, context),
 *     and reads (read-only: no read repair) show the same value, sibling set and version dots
 *   - no lost write: see ledger.ts; every resolved put/delete/update is still a version everywhere or was
 *     superseded by a write whose context covered it
 *   - counters count every resolved increment (and no more than were attempted); an add-wins item
 *     that was added (resolved) and never removed anywhere is present; a document holds every resolved edit
 *     (written as deltas: see schedule.ts Edit) and no other, and reads compare documents by their text
 *   - no frame over the limit, no unexpected `error` event
 *
 * Returns the list of violations (empty when the schedule passes).
 */
import { merges, type Context, type GetResult } from '../../lib/index.js';
import type { AddWinsSet, CounterValue } from '../../lib/merges/index.js';
import { decodeMessage, type Message } from '../../lib/sync/messages.js';
import type { Frame } from '../../lib/transport.js';
import { VirtualClock } from './clock.js';
import { Cluster } from './cluster.js';
import { dotOf } from './ledger.js';
import { COUNTERS, SETS, type Edit, type Op, type Schedule, type Timed } from './schedule.js';
import * as Y from 'yjs';
import { isYjsValue, YJS_TYPE, yjsValue } from '../../adapters/yjs/index.js';

const SPACE = 's';
/** Rejections our simulated network gives, reported by links as `error` events: expected. */
const NETWORK_ERRORS = /unreachable|partitioned|superseded by a newer open/;

export interface RunResult {
  problems: string[];
  /** A digest of every frame sent (time, ends, bytes): equal digests mean the run replayed exactly. */
  digest: string;
  virtualMs: number;
  bytes: number;
  /** Frames sent, by message type (the first byte). */
  frameTypes: Record<number, number>;
}

export async function runSchedule(s: Schedule): Promise<RunResult> {
  const clock = new VirtualClock();
  const start = clock.now();
  let digest = 2166136261;
  const frameTypes: Record<number, number> = {};
  const printer = process.env.SIM_TRACE ? trace(() => clock.now() - start) : undefined;
  const cluster = await Cluster.create({
    clock,
    seed: s.seed,
    nodes: s.nodes,
    edges: s.edges,
    ...(s.relay ? { relay: s.relay } : {}),
    merge: { 'c*': merges.counter, 'set*': merges.addWins },
    link: { antiEntropyInterval: s.antiEntropyInterval, backoff: { base: 20, max: 1000 } },
    net: {
      latency: s.latency,
      ...(s.maxFrameBytes ? { maxFrameBytes: s.maxFrameBytes } : {}),
      tap: (from, to, frame) => {
        const bytes = typeof frame === 'string' ? new TextEncoder().encode(frame) : frame;
        digest = fnv(digest, `${clock.now()}${from}${to}`);
        if (typeof frame !== 'string') frameTypes[frame[0]!] = (frameTypes[frame[0]!] ?? 0) + 1;
        for (const b of bytes) digest = Math.imul(digest ^ b, 16777619) >>> 0;
        printer?.(from, to, frame);
      },
    },
    skew: 200,
  });
  if (process.env.SIM_TRACE) for (const n of cluster.nodes.values()) process.stderr.write(`${n.name} = ${n.r.replicaId}\n`);
  const pending: Promise<unknown>[] = [];
  const held = new Map<string, { context: Context; saw: Set<string> }>(); // node + key → a read earlier
  const increments = new Map<string, { resolved: number; attempted: number }>();
  const items = new Map<string, ItemLog>();
  let valueSeq = 0;

  const runOp = async ({ node, what: op }: Timed<Op>, index: number) => {
    const n = cluster.node(node);
    if (!n.replica) return;
    const r = n.replica;
    const space = r.space(SPACE);
    const value = `${node}#${index}:${++valueSeq}`;
    const note = async (w: { seq: number }, what: string, mayCover?: Set<string>) => {
      if (w.seq > 0) cluster.ledger.record({ node, space: SPACE, key: op.key, dot: dotOf(r.replicaId, w.seq), what: `${what} (op ${index})`, ...(mayCover ? { mayCover } : {}) });
    };
    switch (op.kind) {
      case 'put':
        return note(await space.put(op.key, value), `put ${op.key}=${value}`);
      case 'get': {
        const got = await space.get(op.key);
        if (got) held.set(node + '/' + op.key, { context: got.context, saw: new Set(got.versions.map((v) => dotOf(v.replicaId, v.counter))) });
        return;
      }
      case 'putCtx': {
        const read = held.get(node + '/' + op.key);
        return note(await space.put(op.key, value, read ? { context: read.context } : undefined), `put ${op.key}=${value}${read ? ' with context' : ''}`, read?.saw);
      }
      case 'delete': {
        const read = op.withCtx ? held.get(node + '/' + op.key) : undefined;
        return note(await space.delete(op.key, read ? { context: read.context } : undefined), `delete ${op.key}${read ? ' with context' : ''}`, read?.saw);
      }
      case 'incr': {
        const c = increments.get(op.key) ?? { resolved: 0, attempted: 0 };
        increments.set(op.key, c);
        c.attempted++;
        const w = await space.update<CounterValue>(op.key, (v) => merges.counter.increment(v, r.replicaId, 1));
        c.resolved++;
        return note(w, `increment ${op.key}`);
      }
      case 'add': {
        const it = items.get(op.item) ?? { added: 0, addTried: false, removeTried: false };
        items.set(op.item, it);
        it.addTried = true;
        const w = await space.update<AddWinsSet<string>>(op.key, (v) => merges.addWins.add(v, r.replicaId, op.item));
        it.added++;
        return note(w, `add ${op.item} to ${op.key}`);
      }
      case 'remove': {
        const it = items.get(op.item) ?? { added: 0, addTried: false, removeTried: false };
        items.set(op.item, it);
        it.removeTried = true;
        return note(await space.update<AddWinsSet<string>>(op.key, (v) => merges.addWins.remove(v, op.item)), `remove ${op.item} from ${op.key}`);
      }
    }
  };

  // A document edit: a marker inserted into the key's document as read, written as a delta (concord/yjs writes so).
  const edited = new Map<string, { resolved: string[]; attempted: string[] }>();
  const runEdit = async ({ node, what }: Timed<Edit>, index: number) => {
    const n = cluster.node(node);
    if (!n.replica) return;
    const r = n.replica;
    const space = r.space(SPACE);
    const log = edited.get(what.key) ?? { resolved: [], attempted: [] };
    edited.set(what.key, log);
    const marker = String.fromCharCode(0x4e00 + index); // one character per edit: inserts never split it
    log.attempted.push(marker);
    const doc = new Y.Doc();
    const read = (await space.readRecord(what.key))?.read();
    if (isYjsValue(read?.value)) Y.applyUpdate(doc, read.value);
    let delta: Uint8Array | undefined;
    doc.on('update', (u: Uint8Array) => (delta = u));
    const t = doc.getText('t');
    t.insert(Math.floor(what.at * (t.length + 1)), marker);
    const w = await space.writeWith(what.key, (cur) => (cur && cur.vs.some((v) => !v.d) ? { delta: delta!, type: YJS_TYPE } : { value: yjsValue(Y.encodeStateAsUpdate(doc)) }));
    log.resolved.push(marker);
    if (w.seq > 0) cluster.ledger.record({ node, space: SPACE, key: what.key, dot: dotOf(r.replicaId, w.seq), what: `edit ${what.key} ${marker} (edit ${index})` });
  };

  const opErrors: string[] = [];
  const track = (p: Promise<unknown>, what: string) =>
    pending.push(
      p.catch((e: unknown) => {
        // A replica closed under a running op (a restart) rejects it: that write did not resolve.
        if ((e as { code?: string }).code !== 'CLOSED') opErrors.push(`${what}: ${String(e)}`);
      }),
    );

  s.ops.forEach((op, i) => cluster.clock.setTimeout(() => track(runOp(op, i), `op ${i} ${op.what.kind}`), op.at));
  s.edits.forEach((e, i) => cluster.clock.setTimeout(() => track(runEdit(e, i), `edit ${i}`), e.at));
  for (const f of s.faults) {
    cluster.clock.setTimeout(() => {
      const w = f.what;
      if (w.kind === 'drop') cluster.net.drop(w.a, w.b);
      else if (w.kind === 'partition') {
        cluster.net.partition(w.side);
        cluster.clock.setTimeout(() => cluster.net.heal(), w.heal);
      } else if (cluster.node(w.node).up) {
        track(cluster.stop(w.node), `stop ${w.node}`);
        cluster.clock.setTimeout(() => track(cluster.start(w.node), `start ${w.node}`), w.down);
      }
    }, f.at);
  }

  const problems: string[] = [];
  try {
    await cluster.clock.advance(s.duration);
    // Heal: no cut, every node up, every op finished.
    cluster.net.heal();
    while (pending.length) await Promise.all(pending.splice(0));
    for (const name of cluster.names) await cluster.start(name);
    try {
      await cluster.settle(10 * 60_000);
    } catch (e) {
      problems.push(String((e as Error).message));
    }
    problems.push(...opErrors);
    problems.push(...cluster.net.violations);
    for (const n of cluster.nodes.values()) {
      for (const e of n.errors) if (!NETWORK_ERRORS.test(String((e as Error)?.message ?? e))) problems.push(`${n.name} error event: ${String(e)}`);
    }
    if (problems.length === 0) problems.push(...(await checkState(cluster, increments, items, edited)));
  } finally {
    await cluster.close();
  }
  let bytes = 0;
  for (const name of cluster.names) for (const t of cluster.transportsOf(name)) bytes += t.stats.bytes;
  return { problems, digest: digest.toString(16), virtualMs: cluster.clock.now() - start, bytes, frameTypes };
}

interface ItemLog {
  added: number;
  addTried: boolean;
  removeTried: boolean;
}

/** 32-bit FNV-1a over a string, continuing from `h`. */
function fnv(h: number, text: string): number {
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619) >>> 0;
  return h;
}

/** SIM_TRACE=1: every frame, decoded, on stderr (with the virtual time). */
function trace(now: () => number) {
  return (from: string, to: string, frame: Frame) => {
    let m: Message;
    try {
      m = decodeMessage(frame, { maxValueBytes: 1 << 20 });
    } catch {
      // A LIVE frame: it needs its connection's table (conn-table.ts); its type byte says what it is.
      process.stderr.write(`${now().toFixed(1)} ${from}->${to} live frame (${frame.length} bytes)\n`);
      return;
    }
    const { type, ...rest } = m as Message & Record<string, unknown>;
    const body = JSON.stringify(rest, (k, v) => (k === 'vs' ? (v as Array<{ r: string; n: number; d?: 1 }>).map((x) => `${x.r.slice(0, 3)}:${x.n}${x.d ? 'd' : ''}`) : v));
    process.stderr.write(`${now().toFixed(1)} ${from}->${to} ${type} ${body.slice(0, 300)}\n`);
  };
}

type Read = GetResult<unknown> | undefined;

/** A document value's text (undefined for anything else). Compared as text: merged Yjs states differ in bytes. */
function docText(v: unknown): string | undefined {
  if (!isYjsValue(v)) return undefined;
  const d = new Y.Doc();
  Y.applyUpdate(d, v);
  return d.getText('t').toString();
}

function describeRead(g: Read): string {
  if (!g) return 'absent';
  const text = (v: unknown) => {
    const doc = docText(v);
    return doc === undefined ? JSON.stringify(v) : `doc ${JSON.stringify(doc)}`;
  };
  const siblings = g.siblings.map(text).sort();
  const versions = g.versions.map((v) => `${v.replicaId}:${v.counter}${v.deleted ? 'd' : ''}`).sort();
  return `value=${text(g.value)} siblings=[${siblings.join(',')}] versions=[${versions.join(',')}] conflict=${g.conflict}`;
}

async function checkState(
  cluster: Cluster,
  increments: Map<string, { resolved: number; attempted: number }>,
  items: Map<string, ItemLog>,
  edited: Map<string, { resolved: string[]; attempted: string[] }>,
): Promise<string[]> {
  const problems: string[] = [];
  const names = cluster.names;
  // 1. Same keys, same state hashes.
  const indexes = new Map<string, Map<string, string>>();
  for (const name of names) {
    indexes.set(name, new Map((await cluster.node(name).storage.index(SPACE)).map((e) => [e.key, e.h])));
  }
  const keys = [...new Set([...indexes.values()].flatMap((m) => [...m.keys()]))].sort();
  for (const key of keys) {
    const hs = names.map((n) => indexes.get(n)!.get(key) ?? 'absent');
    if (new Set(hs).size > 1) problems.push(`diverged state of ${key}: ${names.map((n, i) => `${n}=${hs[i]}`).join(' ')}`);
  }
  // 2. Same reads (read-only, so a merge is not written back while we look).
  const reads = new Map<string, Map<string, Read>>();
  for (const name of names) {
    const space = cluster.node(name).r.space(SPACE, { readOnly: true });
    const m = new Map<string, Read>();
    for (const key of keys) m.set(key, await space.get(key));
    reads.set(name, m);
  }
  for (const key of keys) {
    const shown = names.map((n) => describeRead(reads.get(n)!.get(key)));
    if (new Set(shown).size > 1) problems.push(`diverged read of ${key}:\n  ${names.map((n, i) => `${n}: ${shown[i]}`).join('\n  ')}`);
  }
  // 3. No lost write.
  const finals = new Map<string, (space: string, key: string) => ReadonlySet<string>>();
  for (const name of names) {
    const dots = await cluster.dots(name, SPACE);
    finals.set(name, (_space, key) => dots.get(key) ?? new Set());
  }
  problems.push(...cluster.ledger.violations(finals));
  // 4. The CRDT values count what resolved.
  const first = reads.get(names[0]!)!;
  for (const key of COUNTERS) {
    const c = increments.get(key) ?? { resolved: 0, attempted: 0 };
    const total = merges.counter.value(first.get(key)?.value as CounterValue | undefined);
    if (total < c.resolved || total > c.attempted) problems.push(`counter ${key} = ${total}, but ${c.resolved} increments resolved of ${c.attempted} attempted`);
  }
  // 5. Every resolved document edit is in the document (Yjs merges keep every insert), and none that was not tried.
  for (const [key, log] of edited) {
    const text = docText(first.get(key)?.value) ?? '';
    for (const m of log.resolved) if (!text.includes(m)) problems.push(`document ${key} lost the edit ${m}: ${JSON.stringify(text)}`);
    for (const m of text) if (!log.attempted.includes(m)) problems.push(`document ${key} holds ${m}, never typed`);
  }
  for (const key of SETS) {
    const present = new Set(merges.addWins.values(first.get(key)?.value as AddWinsSet<string> | undefined));
    for (const [item, it] of items) {
      if (it.added > 0 && !it.removeTried && !present.has(item)) problems.push(`add-wins ${key} lost ${item} (added ${it.added}×, never removed)`);
      if (!it.addTried && present.has(item)) problems.push(`add-wins ${key} holds ${item}, never added`);
    }
  }
  return problems;
}
