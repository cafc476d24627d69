/**
 * The checks run-schedule.ts applies after heal, judged from the final disks, the replicas' reads, the
 * ledger's history and the anti-entropy runs the replicas reported. Each returns violations as text.
 */
import { merges, type GetResult } from '../../lib/index.js';
import type { AddWinsSet, CounterValue } from '../../lib/merges/index.js';
import type { KeyRecord } from '../../lib/storage.js';
import type { Cluster } from './cluster.js';
import { namesEpochs, type StoredVersion } from '../../lib/dvv.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { peekValue, readDocText } from './doc-values.js';
import { bodyOf, versionDot, type FinalVersion } from './ledger.js';
import { BIG_VALUE, COUNTERS, DAY, SETS, type Schedule } from './schedule.js';
import { checkDeletedCounter, checkDeletedSetItem, deletedTypedKeys } from './typed-delete-checks.js';

const SPACE = 's';

/**
 * Increments of a counter: the dots of those that resolved, and how many were tried. `afterRestore`: those made
 * by a node whose disk had been restored from an older copy before. A counter is a map of counts per replica
 * id; a restored replica's own count went back with its disk, so an increment it makes before the lost ones
 * come back can be absorbed by them (the engine keeps the write — re-minted or re-issued — but a count is a
 * value, not a dot: a known limitation, SECURITY.md / the closing note of issue 10). They are not demanded.
 */
export interface Increments {
  resolved: string[];
  afterRestore: string[];
  attempted: number;
}

/**
 * Adds and removes of an add-wins item. Unlike a counter's increments, an add made by a node whose disk had been
 * restored is demanded too: its item tag, minted from a state that went back, may be one the lost writes used for
 * another item, but the re-identification moves the tags minted after the restore point to the new id (add-wins.ts
 * reissue), so neither item is dropped as the other.
 */
export interface ItemLog {
  /** Dots of the resolved writes that added the item. */
  added: string[];
  /** Dots of the resolved writes that removed it (typed-delete-checks.ts: which adds a remove saw). */
  removed: string[];
  addTried: boolean;
  /** Adds tried (resolved or not: one that did not resolve may be durable, and held). */
  addsTried: number;
  removesTried: number;
  removeTried: boolean;
}

/**
 * Edits of a document key (schedule.ts Edit): each inserts one marker. `resolved`: the edits whose write
 * resolved, with the dot it was stored under and whether its node's disk had been restored from an older copy
 * before. Unlike a counter's increments (Increments), those are demanded too: each edit is its own Yjs client
 * (run-schedule.ts), so a document has no per-replica count for a restore to set back — an insert is kept by
 * every merge, whatever state the write read. Only an edit lost with its only copy is forgiven (the ledger's).
 * `attempted`: every marker tried (a document holds no other).
 */
export interface EditLog {
  resolved: Array<{ marker: string; dot: string; afterRestore: boolean }>;
  attempted: Set<string>;
}

type Read = GetResult<unknown> | undefined;

/** A read as compared across replicas; documents by their text (merged Yjs states differ in bytes). */
function describeRead(g: Read): string {
  if (!g) return 'absent';
  const text = (v: unknown) => {
    const doc = readDocText(v);
    return doc === undefined ? JSON.stringify(v) : `doc ${JSON.stringify(doc)}`;
  };
  const siblings = g.siblings.map(text).sort();
  const versions = g.versions.map((v) => `${v.replicaId}:${v.counter}${v.deleted ? 'd' : ''}`).sort();
  return `value=${text(g.value)} siblings=[${siblings.join(',')}] versions=[${versions.join(',')}] conflict=${g.conflict}`;
}

/**
 * A record as compared across replicas: every version with its dot, clock and value (bodyOf: by content, a
 * document by its text and state vector whether held whole or as a delta), and the context.
 */
export function signature(rec: KeyRecord | undefined): string {
  if (!rec || rec.vs.length === 0) return 'absent';
  const vs = rec.vs.map((v) => `${versionDot(v)}/${v.t}.${v.c}${v.d ? ' deleted' : `=${shortBody(bodyOf(v))}`}`).sort();
  const cc = Object.keys(rec.cc).sort().map((r) => `${r}:${rec.cc[r]}`);
  const pts = Object.keys(rec.pts ?? {}).sort().map((r) => `${r}:${rec.pts![r]!.map((p) => `${p.n}@${p.e}`).join('|')}`);
  return `[${vs.join(', ')}] cc{${cc.join(',')}}${pts.length ? ` pts{${pts.join(',')}}` : ''}`;
}

/** The frame limit of the edge a–b under the withheld feature: the lower of its ends' narrow limits (none: undefined). */
export function narrowLimit(s: Schedule, a: string, b: string): number | undefined {
  const limits = [s.narrow?.[a], s.narrow?.[b]].filter((x): x is number => x !== undefined);
  return limits.length ? Math.min(...limits) : undefined;
}

/** A version holding a big value (the withheld feature's: over every narrow frame limit). */
export function isBig(v: StoredVersion): boolean {
  const value = peekValue(v);
  return value !== undefined && value.length >= BIG_VALUE.min;
}

/**
 * The withheld feature: the groups of nodes that wide links join (no narrow end, no frame limit for the whole
 * schedule). A key state holding a big version goes over wide links only, so a key left big at the end is the same
 * within each group and may differ between groups (docs/errors.md VALUE_TOO_LARGE: not sent on that connection until
 * written again with a state it can carry).
 */
export function wideGroups(s: Schedule, nodes: readonly string[]): string[][] {
  return linkGroups(s, nodes, (a, b) => wide(s, a, b));
}

const wide = (s: Schedule, a: string, b: string) => s.maxFrameBytes === undefined && narrowLimit(s, a, b) === undefined;

/** The groups of nodes that the schedule's links `carries` accepts join. */
export function linkGroups(s: Schedule, nodes: readonly string[], carries: (a: string, b: string) => boolean): string[][] {
  const group = new Map(nodes.map((x) => [x, x]));
  const find = (x: string): string => (group.get(x) === x ? x : find(group.get(x)!));
  for (const [a, b] of s.edges ?? []) if (carries(a, b)) group.set(find(a), find(b));
  const out = new Map<string, string[]>();
  for (const x of nodes) out.set(find(x), [...(out.get(find(x)) ?? []), x]);
  return [...out.values()];
}

/** Whether a node's hellos announce protocol 11 (Cluster `speaks`, else this release's versions). */
export function speaks11(cluster: Cluster, node: string): boolean {
  return (cluster.options.speaks?.[node] ?? PROTOCOL_VERSIONS).includes(EPOCH_DOTS);
}

/** A body as printed: a big one by its start, its length and a hash of the whole (equal iff the bodies are, all but surely). */
function shortBody(body: string): string {
  if (body.length < 200) return body;
  let h = 2166136261;
  for (let i = 0; i < body.length; i++) h = Math.imul(h ^ body.charCodeAt(i), 16777619) >>> 0;
  return `${body.slice(0, 24)}…(${body.length} chars, #${h.toString(16)})`;
}

const onlyTombstones = (rec: KeyRecord | undefined) => rec !== undefined && rec.vs.length > 0 && rec.vs.every((v) => v.d === 1);

/**
 * Convergence (same versions: dots, value bytes, clocks, context; and the same reads), the ledger's history
 * checks, and the CRDT counts. Where tombstones are collected, a replica may lack a key that others hold
 * only as tombstones.
 */
export async function checkState(
  cluster: Cluster,
  s: Schedule,
  increments: Map<string, Increments>,
  items: Map<string, ItemLog>,
  edits: Map<string, EditLog> = new Map(),
): Promise<string[]> {
  const problems: string[] = [];
  const names = cluster.names;
  // The ledger judges contexts by every node's epoch records: those of the replicas open now too (an identity renewed
  // mid-session, say), besides what it learned at each open and re-identification.
  for (const n of names) for (const r of cluster.node(n).tabs) if (r && !r.core.isClosed) cluster.ledger.learnEpochs(r.core.epochs, cluster.node(n).ids);
  const collecting = Object.values(s.collect).some((g) => g < DAY);
  const records = new Map(names.map((n) => [n, new Map(cluster.node(n).disk.records(SPACE))]));
  const keys = [...new Set([...records.values()].flatMap((m) => [...m.keys()]))].sort();
  // Keys left big at the end (the withheld feature): the same within each group of nodes wide links join.
  const groups = wideGroups(s, names);
  const leftBig = new Set(keys.filter((key) => names.some((n) => records.get(n)!.get(key)?.vs.some(isBig))));
  // Peers of earlier releases beside nodes at 11 (SIM_SPEAKS=mixed): a state naming an epoch goes over links whose ends
  // both speak 11 only (wire.ts: left out and reported to a peer below 11, docs/design/epochs-build.md item 6), so such
  // a key is judged per group of nodes those links join, as a big key is per wide group.
  const at11 = (n: string) => speaks11(cluster, n);
  const mixed = names.some(at11) && !names.every(at11);
  const tagged = new Set(mixed ? keys.filter((key) => names.some((n) => ((r) => r !== undefined && namesEpochs(r))(records.get(n)!.get(key)))) : []);
  const groups11 = tagged.size ? linkGroups(s, names, (a, b) => at11(a) && at11(b)) : [names];
  const groupsBoth = tagged.size ? linkGroups(s, names, (a, b) => wide(s, a, b) && at11(a) && at11(b)) : groups;
  const groupsOf = (key: string) => (leftBig.has(key) ? (tagged.has(key) ? groupsBoth : groups) : tagged.has(key) ? groups11 : [names]);
  const why = (key: string, group: readonly string[]) =>
    leftBig.has(key) ? ` (left big; among ${group.join('')}, which wide links join)` : tagged.has(key) ? ` (names an epoch; among ${group.join('')}, which links at protocol 11 join)` : '';
  // 1. Same versions, value bytes included (a state hash leaves values out: two values under one dot hash equal).
  for (const key of keys) {
    for (const group of groupsOf(key)) {
      const recs = group.map((n) => records.get(n)!.get(key));
      const sigs = recs.map(signature);
      const present = new Set(sigs.filter((x) => x !== 'absent'));
      const someAbsent = sigs.includes('absent');
      const collectedAway = collecting && someAbsent && recs.every((r) => !r || r.vs.length === 0 || onlyTombstones(r));
      if (present.size > 1 || (someAbsent && present.size === 1 && !collectedAway)) {
        problems.push(`diverged versions of ${key}${why(key, group)}:\n  ${group.map((n, i) => `${n}: ${sigs[i]}`).join('\n  ')}`);
      }
    }
  }
  // 2. A dot names one value of its key, forever: the same dot of a key with two values, anywhere, is a violation
  //    (a write lost in a crash or a restore whose dot left the replica, then minted again for another value).
  //    Causality is per key (dvv.ts): a restored replica that wrote before it could learn of the restore may
  //    reuse a counter under another key, which no join confuses; within a key the engine mints again on any
  //    contradiction (dvv.ts contradiction), so there it must never happen.
  const named = new Map<string, { key: string; body: string; node: string }>();
  const reported = new Set<string>();
  for (const n of names) {
    for (const [key, rec] of records.get(n)!) {
      for (const v of rec.vs) {
        const dot = versionDot(v);
        const body = bodyOf(v);
        const seen = named.get(`${key}\u0000${dot}`);
        if (!seen) named.set(`${key}\u0000${dot}`, { key, body, node: n });
        else if (seen.body !== body && !reported.has(`${key}\u0000${dot}`)) {
          reported.add(`${key}\u0000${dot}`);
          problems.push(`dot ${dot} names two values: ${seen.key}=${seen.body} on ${seen.node}, ${key}=${body} on ${n}`);
        }
      }
    }
  }
  // 3. Same reads (read-only, so a merge is not written back while we look).
  const reads = new Map<string, Map<string, Read>>();
  for (const name of names) {
    const space = cluster.node(name).r.space(SPACE, { readOnly: true });
    const m = new Map<string, Read>();
    for (const key of keys) m.set(key, await cluster.drive(space.get(key)));
    reads.set(name, m);
  }
  for (const key of keys) {
    for (const group of groupsOf(key)) {
      const shown = group.map((n) => describeRead(reads.get(n)!.get(key)));
      if (new Set(shown).size > 1) problems.push(`diverged read of ${key}:\n  ${group.map((n, i) => `${n}: ${shown[i]}`).join('\n  ')}`);
    }
  }
  // 4. The history: no lost write, no reused dot, no context overreach, no collected delete back. Judged by every node's
  //    epoch records: a dot naming an epoch the ledger never learned would be judged a root (its context coverage
  //    understated), so one is reported — the ledger missed an open, not the library.
  const unplaced = new Set<string>();
  for (const n of names) for (const [, rec] of records.get(n)!) for (const v of rec.vs) if (v.ep !== undefined && !cluster.ledger.epochs.knows(v.r, v.ep)) unplaced.add(`${v.r}@${v.ep}`);
  if (unplaced.size) problems.push(`the checker knows no record of epoch ${[...unplaced].join(', ')} (a node's open it did not see)`);
  problems.push(...cluster.ledger.epochConflicts.map((c) => `the checker learned conflicting epoch records: ${c}`));
  const finals = new Map<string, (space: string, key: string) => readonly FinalVersion[]>();
  const versionsOn = (name: string, key: string) => (records.get(name)!.get(key)?.vs ?? []).map((v) => ({ dot: versionDot(v), body: bodyOf(v) }));
  for (const name of names) {
    // A key left big (or naming an epoch, beside peers of earlier releases): a node holds, as far as the history goes,
    // what the nodes of the other groups hold too (a write may stay there, unsent); a write held nowhere is still lost.
    finals.set(name, (_space, key) => [...versionsOn(name, key), ...groupsOf(key).filter((g) => !g.includes(name)).flat().flatMap((x) => versionsOn(x, key))]);
  }
  problems.push(...cluster.ledger.violations(finals));
  // 5. The CRDT values count what resolved, read on the first node; for a key naming an epoch beside peers of earlier
  //    releases, on a node of the one group of nodes at 11 (every write reaches it: an earlier peer's states are
  //    untagged, and go everywhere), or nowhere when the nodes at 11 are apart.
  const readerOf = (key: string): string | undefined => {
    if (!tagged.has(key)) return names[0]!;
    const with11 = groupsOf(key).filter((g) => g.some(at11));
    return with11.length === 1 ? with11[0]!.find(at11)! : undefined;
  };
  // Keys the typed-delete feature deletes: judged by the history of their final state (typed-delete-checks.ts).
  const deleted = deletedTypedKeys(s, [...COUNTERS, ...SETS]);
  for (const key of COUNTERS) {
    const reader = readerOf(key);
    if (!reader) continue;
    // Increments lost with their only copy (a restore from an older copy) need not count.
    const c = increments.get(key) ?? { resolved: [], afterRestore: [], attempted: 0 };
    const kept = c.resolved.filter((d) => !cluster.ledger.isForgiven(d) && !c.afterRestore.includes(d)).length;
    const total = merges.counter.value(reads.get(reader)!.get(key)?.value as CounterValue | undefined);
    if (deleted.has(key)) {
      const problem = checkDeletedCounter(cluster.ledger, key, total, records.get(reader)!.get(key)?.vs ?? [], c);
      if (problem) problems.push(problem);
    } else if (total < kept || total > c.attempted) problems.push(`counter ${key} = ${total}, but ${kept} increments resolved (and kept) of ${c.attempted} attempted`);
  }
  for (const key of SETS) {
    const reader = readerOf(key);
    if (!reader) continue;
    const present = new Set(merges.addWins.values(reads.get(reader)!.get(key)?.value as AddWinsSet<string> | undefined));
    const deletes = deleted.has(key) ? cluster.ledger.deletesOf(SPACE, key) : [];
    for (const [item, it] of items) {
      const kept = it.added.filter((d) => !cluster.ledger.isForgiven(d)).length;
      if (deleted.has(key)) {
        const problem = checkDeletedSetItem(cluster.ledger, key, item, present, it, deletes, records.get(reader)!.get(key)?.vs ?? []);
        if (problem) problems.push(problem);
      } else if (kept > 0 && !it.removeTried && !present.has(item)) problems.push(`add-wins ${key} lost ${item} (added ${kept}×, never removed)`);
      if (!it.addTried && present.has(item)) problems.push(`add-wins ${key} holds ${item}, never added`);
    }
  }
  // 6. A document holds every resolved edit (Yjs merges keep every insert; writes are deltas against what they
  //    read) unless it was lost with its only copy, and no marker that was never typed.
  for (const [key, log] of edits) {
    const reader = readerOf(key);
    if (!reader) continue;
    const value = reads.get(reader)!.get(key)?.value;
    const text = readDocText(value);
    if (value !== undefined && text === undefined) {
      problems.push(`document ${key} reads as something else: ${JSON.stringify(value)?.slice(0, 200)}`);
      continue;
    }
    for (const e of log.resolved) {
      if (cluster.ledger.isForgiven(e.dot)) continue;
      if (!text?.includes(e.marker)) problems.push(`document ${key} lost the edit ${e.marker} (${e.dot}${e.afterRestore ? ', made after its node was restored' : ''}): ${JSON.stringify(text ?? null)}`);
    }
    for (const m of text ?? '') if (!log.attempted.has(m)) problems.push(`document ${key} holds ${m}, never typed`);
  }
  return problems;
}

/**
 * Every link (edge) ran at least one periodic anti-entropy round (`onConnect: false`) since `from`, as reported
 * by either end (both ends report the runs they take part in).
 */
export function checkPeriodicAntiEntropy(cluster: Cluster, from: number): string[] {
  const problems: string[] = [];
  const ran = (node: string, peer: string) => {
    const ids = new Set([...cluster.node(peer).ids, cluster.node(peer).r.replicaId]);
    return cluster.node(node).ae.some((e) => e.at >= from && !e.onConnect && ids.has(e.peer));
  };
  for (const [a, b] of cluster.options.edges) {
    if (ran(a, b) || ran(b, a)) continue;
    const side = (x: string, y: string) => (cluster.node(x).r.replicaId < cluster.node(y).r.replicaId ? '<' : '>');
    const server = cluster.server(a, b);
    const dialer = server === a ? b : a;
    const how = server ? `${cluster.isRelay(dialer) ? 'relay' : 'client'} ${dialer} ${side(dialer, server)} relay ${server} by replicaId, ${dialer} dials` : `peers, ${a} ${side(a, b)} ${b} by replicaId`;
    problems.push(`no periodic anti-entropy on link ${a}-${b} (${how}) in ${cluster.clock.now() - from} virtual ms after heal`);
  }
  return problems;
}

/** No honest replica's hybrid logical clock ends up more than a minute ahead of its wall clock (far-future peer). */
export async function checkHlcDrift(cluster: Cluster, s: Schedule): Promise<string[]> {
  const problems: string[] = [];
  for (const name of cluster.names) {
    if (name === s.farFuture) continue;
    const n = cluster.node(name);
    const space = n.r.space(SPACE, { readOnly: false }); // checkState made it read-only to look without read repair
    const w = await cluster.drive(space.put(`hlc/${name}`, 'probe'));
    const got = await cluster.drive(space.get(`hlc/${name}`));
    const mine = got?.versions.find((v) => v.replicaId === n.r.replicaId && v.counter === w.seq);
    const wall = cluster.clock.now() + n.skew;
    if (mine && mine.hlc.ms > wall + 60_000) {
      problems.push(`hlc drift: ${name}'s clock is ${Math.round((mine.hlc.ms - wall) / 1000)} s ahead of its wall clock after syncing with far-future ${s.farFuture}`);
    }
  }
  return problems;
}
