/**
 * The faults of the fault classes (schedule.ts FEATURES), drawn from their own stream (the fifth of a
 * schedule's seed) after the base faults: restores, power losses and dead disks, tombstone collections with the
 * absences and quiet tail they need, tab closes, full disks. Every draw is made whether or not its feature is on, so
 * switching a feature off changes nothing else.
 */
import type { Rng } from './clock.js';
import type { Fault, Feature, Op, Timed } from './schedule.js';
import { DAY } from './schedule.js';

export interface FeatureContext {
  rng: Rng;
  on: ReadonlySet<Feature>;
  nodes: string[];
  relays: string[];
  edges: Array<[string, string]>;
  plainKeys: string[];
  duration: number;
  grace: number;
  collect: Record<string, number>;
  tabs: Record<string, number>;
  /** A relay-collection schedule that empties the relay's space (schedule.ts). */
  gcEmpties: boolean;
  /** Added to: writes some faults need around them. */
  ops: Array<Timed<Op>>;
  faults: Array<Timed<Fault>>;
}

/** Adds the feature faults (and the operations they need); returns the quiet tail after the operations. */
export function featureFaults({ rng: extraRng, on, nodes, relays, edges, plainKeys, duration, grace, collect, tabs, gcEmpties, ops, faults }: FeatureContext): { tail: number } {
  const clients = nodes.filter((x) => !relays.includes(x));
  const restoreOf = (node: string, writes: boolean) => {
    const at = extraRng.int(Math.floor(duration / 3), duration);
    const backupAt = extraRng.int(0, at);
    const down = extraRng.int(0, 500);
    const isolate = writes ? extraRng.int(200, 1500) : 0;
    faults.push({ at, node, what: { kind: 'restore', node, backupAt, down, isolate } });
    // Writes while cut off after the restore: before it reconnects.
    for (let i = 0, count = writes ? extraRng.int(1, 4) : 0; i < count; i++) {
      ops.push({ at: at + down + extraRng.int(1, Math.max(1, isolate - 1)), node, what: { kind: 'put', key: extraRng.pick(plainKeys) } });
    }
  };
  const restoreCount = extraRng.int(1, 2);
  const restoreWrites = [extraRng.chance(0.5), extraRng.chance(0.5)];
  if (on.has('restore-replica')) for (let i = 0; i < restoreCount; i++) restoreOf(extraRng.pick(clients), restoreWrites[i]!);
  else if (on.has('restore-once')) restoreOf(extraRng.pick(clients), restoreWrites[0]!);
  const relayToRestore = relays.length ? extraRng.pick(relays) : undefined;
  if (on.has('restore-relay') && relayToRestore) restoreOf(relayToRestore, false);
  const crashes = extraRng.int(2, 5);
  for (let i = 0; i < crashes; i++) {
    const at = extraRng.int(0, duration);
    const node = extraRng.pick(nodes);
    const down = extraRng.int(0, 1000);
    if (on.has('crash')) faults.push({ at, node, what: { kind: 'crash', node, down } });
  }
  // A disk that dies: its node comes back empty (a new replica), writes a little while still cut off, then
  // runs anti-entropy with every neighbour at once (both sides hold keys, no cursor is valid) — writes in flight
  // included; one of the neighbours then loses power.
  const dies = extraRng.pick(nodes);
  const diesAt = extraRng.int(0, duration);
  const diesDown = extraRng.int(0, 300);
  const diesCut = extraRng.int(100, 600);
  const diesWrites = extraRng.int(1, 3);
  const neighbours = edges.filter(([a, b]) => a === dies || b === dies).map(([a, b]) => (a === dies ? b : a));
  const victim = extraRng.pick(neighbours);
  const back = diesAt + diesDown + diesCut;
  // The reconnection waits for a backoff (up to a second): the victim keeps writing through that time, so it
  // holds writes not yet durable whenever the anti-entropy runs (run-schedule.ts flags any own dot a replica
  // sends before it is durable), and loses power with some of them in flight.
  const victimAt = back + extraRng.int(500, 1500);
  const victimDown = extraRng.int(0, 500);
  if (on.has('crash')) {
    faults.push({ at: diesAt, node: dies, what: { kind: 'wipe', node: dies, down: diesDown, isolate: diesCut } });
    // The empty node writes the first keys while cut off; the victim writes them too just before it rejoins (not
    // yet durable when anti-entropy runs), loses power, and writes again after its restart.
    for (let i = 0; i < diesWrites; i++) {
      const key = plainKeys[i % plainKeys.length]!;
      ops.push({ at: diesAt + diesDown + 1 + Math.floor(((i + 1) * diesCut) / (diesWrites + 1)), node: dies, what: { kind: 'put', key }, tab: 0 });
      for (let t = back - 1 - i; t < victimAt; t += 250) ops.push({ at: t, node: victim, what: { kind: 'put', key }, tab: 0 });
    }
    faults.push({ at: victimAt, node: victim, what: { kind: 'crash', node: victim, down: victimDown } });
    ops.push({ at: victimAt + victimDown + 50, node: victim, what: { kind: 'put', key: plainKeys[0]! }, tab: 0 });
  }
  // Tombstone collection: after the operations, a quiet tail of two to four graces in which the collectors
  // collect (the newest entries of their logs included) while peers are still away, and a few fresh writes
  // (by a collector, which holds no state of a collected key) before everyone returns at heal.
  const collectors = Object.entries(collect).filter(([, g]) => g < DAY).map(([x]) => x);
  const tailDrawn = extraRng.int(2 * grace, 4 * grace);
  const tail = collectors.length ? tailDrawn : 0;
  const end = duration + tail;
  const collections = extraRng.int(3, 8);
  for (let i = 0; i < collections; i++) {
    const at = extraRng.int(0, end);
    const node = collectors.length ? extraRng.pick(collectors) : nodes[0]!;
    if (collectors.length) faults.push({ at, node, what: { kind: 'collect', node } });
  }
  // Peers away longer than the grace: one to three cut off, some until the end, and a long restart.
  const aways = Array.from({ length: 3 }, () => {
    const at = extraRng.int(0, Math.floor((2 * duration) / 3));
    return { node: extraRng.pick(clients), at, for: extraRng.chance(0.75) ? end - at : extraRng.int(grace + 100, 3 * grace + 1000) };
  });
  const awayCount = extraRng.int(1, 3);
  const downAt = extraRng.int(0, duration);
  const downNode = extraRng.pick(clients);
  const downFor = extraRng.int(grace + 100, 3 * grace + 1000);
  // Delete sweeps at the end of the operations (the first just after them, when nothing else is in flight; often
  // by a collector): a node deletes every plain key it holds,
  // so keys end as tombstones only (collectable, the newest log entries) while the peers away still hold what
  // the sweep superseded.
  const sweeps = Array.from({ length: extraRng.int(1, 2) }, (_, i) => ({
    at: i === 0 ? duration + 50 : duration - extraRng.int(0, 300),
    node: extraRng.chance(0.5) && collectors.length ? extraRng.pick(collectors) : extraRng.pick(nodes),
  }));
  const tailWrites = Array.from({ length: extraRng.pick([0, 0, 1, 2]) }, () => ({
    at: duration + extraRng.int(Math.floor(tail / 2), Math.max(Math.floor(tail / 2), tail - 1)),
    node: extraRng.chance(0.5) && collectors.length ? extraRng.pick(collectors) : extraRng.pick(nodes),
    key: extraRng.pick(plainKeys),
  }));
  // A client that loses its disk at the end: its first contact comes after the last collection.
  const wipe = { node: extraRng.pick(clients), at: end - extraRng.int(1, 50), down: extraRng.int(51, 250), on: extraRng.chance(0.5) };
  if (collectors.length) {
    if (wipe.on) faults.push({ at: wipe.at, node: wipe.node, what: { kind: 'wipe', node: wipe.node, down: wipe.down } });
    for (const a of aways.slice(0, awayCount)) faults.push({ at: a.at, node: a.node, what: { kind: 'away', node: a.node, for: gcEmpties ? end - a.at : a.for } });
    if (!gcEmpties) faults.push({ at: downAt, node: downNode, what: { kind: 'restart', node: downNode, down: downFor } });
    for (const c of collectors) {
      faults.push({ at: duration + Math.floor(tail / 2), node: c, what: { kind: 'collect', node: c } });
      faults.push({ at: end, node: c, what: { kind: 'collect', node: c } });
    }
    if (gcEmpties) for (const key of plainKeys) ops.push({ at: duration + 50, node: relays[0]!, what: { kind: 'delete', key, withCtx: false }, tab: 0 });
    else {
      for (const w of tailWrites) ops.push({ at: w.at, node: w.node, what: { kind: 'put', key: w.key }, tab: 0 });
      for (const sw of sweeps) for (const key of plainKeys) ops.push({ at: sw.at, node: sw.node, what: { kind: 'delete', key, withCtx: false }, tab: 0 });
    }
  }
  const tabFaults = extraRng.int(0, 3);
  for (let i = 0; i < tabFaults; i++) {
    const at = extraRng.int(0, duration);
    const tabbed = Object.keys(tabs);
    const node = tabbed.length ? extraRng.pick(tabbed) : nodes[0]!;
    const tab = extraRng.int(0, 2);
    const down = extraRng.int(0, 1500);
    if (tabbed.length) faults.push({ at, node, what: { kind: 'tab', node, tab: tab % tabs[node]!, down } });
  }
  fullDisks({ rng: extraRng, on, nodes, relays, edges, plainKeys, duration, ops, faults });
  return { tail };
}

/**
 * Full disks (disk-full; drawn last, so no other fault moves): three to six times a node's next group commits fail
 * (STORAGE_FULL: the group whose fsync runs and every transaction queued after it, SimDisk failNextCommit), aimed
 * where they bite. Half the time at a node just before it writes (or, a relay, just before a client of it writes: it
 * stores what it hears), with writes before it in flight. Otherwise the node was cut off and wrote keys meanwhile
 * (records its peers lack), and as it rejoins it writes them again while its disk is full for as many commits: the
 * reconnection's establishing anti-entropy runs leave those keys out (records not durable) and wait for records whose
 * transactions then fail — the keys back at records at or below the run's top (lib/sync/left-out.ts, repair.ts settle).
 */
function fullDisks({ rng, on, nodes, relays, edges, plainKeys, duration, ops, faults }: Pick<FeatureContext, 'rng' | 'on' | 'nodes' | 'relays' | 'edges' | 'plainKeys' | 'duration' | 'ops' | 'faults'>): void {
  const count = rng.int(3, 6);
  for (let i = 0; i < count; i++) {
    const node = relays.length && rng.chance(0.3) ? rng.pick(relays) : rng.pick(nodes);
    const neighbours = edges.filter(([a, b]) => a === node || b === node).map(([a, b]) => (a === node ? b : a));
    const neighbour = rng.pick(neighbours);
    const at = rng.int(0, duration);
    const rejoining = rng.chance(0.5);
    const cut = rng.int(300, 1500);
    const writer = relays.includes(node) ? neighbour : node;
    const keys = Array.from({ length: rng.int(1, 3) }, () => rng.pick(plainKeys));
    // While cut off (the first half of the cut), then after it rejoins (within a second: its reconnection's backoff).
    const cutWrites = keys.map((key) => ({ at: at - cut + rng.int(0, Math.floor(cut / 2)), key }));
    const later = Array.from({ length: rng.int(2, 5) }, (_, j) => ({ at: at + 1 + rng.int(0, 1000), key: keys[j % keys.length]! }));
    // Or writes over the time before it (one to three commits fail: the group in flight, then the next).
    const before = Array.from({ length: rng.int(2, 5) }, () => ({ at: at - rng.int(0, 600), key: rng.pick(plainKeys) }));
    const commits = rng.int(1, 3);
    if (!on.has('disk-full')) continue;
    const put = (w: { at: number; key: string }) => ops.push({ at: Math.min(duration, Math.max(0, w.at)), node: writer, what: { kind: 'put', key: w.key }, tab: 0 });
    if (rejoining) {
      faults.push({ at: Math.max(0, at - cut), node, what: { kind: 'away', node, for: Math.min(cut, at) } });
      cutWrites.forEach(put);
      later.forEach(put);
      faults.push({ at, node, what: { kind: 'full', node, commits: later.length } });
    } else {
      before.forEach(put);
      faults.push({ at, node, what: { kind: 'full', node, commits } });
    }
  }
}
