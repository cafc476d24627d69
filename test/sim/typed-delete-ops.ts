/**
 * The typed-delete feature's operations (schedule.ts), drawn from their own stream (the eleventh of a schedule's seed):
 * counters and add-wins sets deleted and written again while a peer is away with an old copy of them — the class the
 * other families never draw (their deletes name plain keys only).
 *
 * Each episode names one typed key, a deleter (a node, and one of its tabs) and a peer away at the delete:
 *
 *   before   one to three writes of the key (increments, adds), by the deleter or others, before the peer goes away,
 *            so the peer likely holds the key as it was
 *   away     the peer is cut off from every other node (an `away` fault), sometimes with a partition of a few more
 *            nodes beside it; it writes its old copy meanwhile (one to three increments, adds or removes)
 *   delete   the deleter deletes the key, half the time with the context of a read it made a little before
 *   again    the deleter writes the key again after its delete — from the same tab or another one sharing its
 *            storage — while the peer is still away; sometimes a third node too; sometimes the key is deleted again
 *
 * The peer comes back before the operations end or only at heal. What must hold (checks.ts, typed-delete-checks.ts):
 * every increment the final state's history includes counts, and every add no later remove of its item nor delete of
 * its key saw is in the set. Every draw is made whether or not the feature is on: its draws keep their meaning.
 */
import type { Rng } from './clock.js';
import type { Fault, Op, Timed } from './schedule.js';

export interface TypedDeleteContext {
  rng: Rng;
  /** Whether the feature is on and the schedule takes typed writes (every draw is made either way). */
  on: boolean;
  nodes: string[];
  counters: readonly string[];
  sets: readonly string[];
  items: readonly string[];
  duration: number;
  ops: Array<Timed<Op>>;
  faults: Array<Timed<Fault>>;
}

/** Adds the typed-delete episodes' operations and absences to `ops` and `faults`. */
export function typedDeleteOps({ rng, on, nodes, counters, sets, items, duration, ops, faults }: TypedDeleteContext): void {
  const op = (at: number, node: string, what: Op, tab: number) => on && ops.push({ at: Math.max(0, Math.min(at, duration)), node, what, tab });
  // A write of a typed key: an increment, or an add (a remove in one in five) of an item.
  const write = (key: string, at: number, node: string, tab: number) => {
    const item = rng.pick(items);
    const remove = rng.chance(0.2);
    op(at, node, counters.includes(key) ? { kind: 'incr', key } : remove ? { kind: 'remove', key, item } : { kind: 'add', key, item }, tab);
  };
  for (let i = 0, count = rng.int(2, 5); i < count; i++) {
    const key = rng.pick([...counters, ...sets]);
    const at = rng.int(300, Math.max(300, duration));
    const deleter = rng.pick(nodes);
    const tab = rng.int(0, 2);
    const others = nodes.filter((x) => x !== deleter);
    const peer = rng.pick(others);
    const leaves = at - rng.int(20, 600);
    // Back within the operations, or only at heal (the end: every absence ends there).
    const back = rng.chance(0.3) ? duration + 1 : at + rng.int(100, 2500);
    if (on) faults.push({ at: leaves, node: peer, what: { kind: 'away', node: peer, for: back - leaves } });
    // Sometimes a few more nodes go with it (the deleter never does).
    const side = [peer, ...others.filter((x) => x !== peer && rng.chance(0.3))];
    if (rng.chance(0.3) && side.length < nodes.length && on) faults.push({ at: leaves, node: peer, what: { kind: 'partition', side, heal: back - leaves } });
    for (let j = 0, before = rng.int(1, 3); j < before; j++) write(key, leaves - rng.int(100, 800), rng.chance(0.5) ? deleter : rng.pick(nodes), rng.int(0, 2));
    for (let j = 0, meanwhile = rng.int(1, 3); j < meanwhile; j++) write(key, rng.int(leaves + 1, Math.min(back, at + 1500)), peer, rng.int(0, 2));
    const withCtx = rng.chance(0.5);
    if (withCtx) op(at - rng.int(1, 200), deleter, { kind: 'get', key }, tab);
    op(at, deleter, { kind: 'delete', key, withCtx }, tab);
    // Written again after the delete, from the deleting tab or another sharing its storage, while the peer is away.
    for (let j = 0, again = rng.int(1, 3); j < again; j++) write(key, at + rng.int(1, 600), deleter, rng.chance(0.5) ? tab : rng.int(0, 2));
    const third = rng.pick(others);
    const thirdAt = at + rng.int(50, 1200);
    if (rng.chance(0.4) && third !== peer) write(key, thirdAt, third, rng.int(0, 2));
    // A second delete of the key, later, by any node.
    const secondAt = at + rng.int(200, 2000);
    const second = rng.pick(nodes);
    if (rng.chance(0.25)) {
      op(secondAt, second, { kind: 'delete', key, withCtx: false }, rng.int(0, 2));
      write(key, secondAt + rng.int(1, 400), rng.pick(nodes), rng.int(0, 2));
    }
  }
}
