/**
 * What must hold of a counter or an add-wins set whose key was deleted (the typed-delete feature, schedule.ts), judged
 * from the ledger's history of local writes: each write's value and the writes it superseded (`supersededWrites`).
 *
 *   counter  Every increment the final state's history includes counts. That history is the final versions' writes
 *            and, from each write holding a value, the writes it superseded that hold one too: an update reads the
 *            join of the live versions it supersedes and writes it plus its own change, while a delete's tombstone
 *            keeps no value (what it superseded lives on only where a write concurrent with it kept it). An increment
 *            of that history whose count is not in the final value was absorbed: by another increment of the same
 *            entry, such as one made after a delete of the key under the entry its deleted count had (merges/counter.ts
 *            incarnations). Old entries that come back with a write concurrent with the delete are of that history too
 *            (that write read them). From above, the final value counts no more than that history's increments: each
 *            count in a value comes from one of them. Where every increment resolved and no disk was restored, the
 *            value is exactly their number.
 *   set      An add that no remove of its item and no delete of the key saw (its write is not among the writes they
 *            superseded, transitively) is in the final set. An add a delete saw may come back with a write concurrent
 *            with the delete, or stay deleted (the deleting replica's own items do once it adds again: the re-created
 *            set counts its earlier tags as seen, merges/add-wins.ts); neither is demanded. An item in the final set
 *            has an add in the final state's history (a tag is in a value only through the writes that value read).
 *
 * Increments made by a node after its disk was restored from an older copy, and writes lost with their only copy, are
 * not demanded (as checks.ts does for every counter).
 */
import type { KeyRecord } from '../../lib/storage.js';
import { writeKey, type Dot, type Ledger } from './ledger.js';
import type { Schedule } from './schedule.js';

const TOMBSTONE = '\u0000<deleted>';
const dotOfWrite = (w: string): Dot => w.slice(0, w.indexOf('\u0000'));

/** The typed keys the schedule deletes (the typed-delete feature: no other draws a delete of one). */
export function deletedTypedKeys(s: Schedule, typed: readonly string[]): Set<string> {
  return new Set((s.ops ?? []).filter((o) => o.what.kind === 'delete' && typed.includes(o.what.key)).map((o) => o.what.key));
}

/**
 * The dots of the writes whose values the final versions `vs` hold: theirs, and, through each write holding a value,
 * those it superseded that hold a value too (a tombstone ends the walk).
 */
export function valueHistory(ledger: Ledger, vs: ReadonlyArray<KeyRecord['vs'][number]>): Set<Dot> {
  return walk(ledger, vs.filter((v) => !v.d).map(writeKey), false);
}

/** The dots of every write the writes under `dots` superseded, transitively, tombstones included. */
export function seenBy(ledger: Ledger, dots: readonly Dot[]): Set<Dot> {
  return walk(ledger, dots.flatMap((d) => ledger.writesUnder(d)).flatMap((w) => ledger.supersededWrites(w)), true);
}

function walk(ledger: Ledger, from: readonly string[], throughTombstones: boolean): Set<Dot> {
  const done = new Set<string>();
  const dots = new Set<Dot>();
  const todo = [...from];
  while (todo.length) {
    const w = todo.pop()!;
    if (done.has(w)) continue;
    done.add(w);
    if (!throughTombstones && w.endsWith(TOMBSTONE)) continue;
    dots.add(dotOfWrite(w));
    todo.push(...ledger.supersededWrites(w));
  }
  return dots;
}

/** The problem with a deleted counter's final value `total`, if any (see the header). */
export function checkDeletedCounter(
  ledger: Ledger,
  key: string,
  total: number,
  final: ReadonlyArray<KeyRecord['vs'][number]>,
  c: { resolved: readonly string[]; afterRestore: readonly string[]; attempted: number },
): string | undefined {
  const history = valueHistory(ledger, final);
  const held = c.resolved.filter((d) => d && history.has(d));
  const counted = held.filter((d) => !ledger.isForgiven(d) && !c.afterRestore.includes(d));
  // At most the history's increments: those resolved, any that did not resolve (durable all the same, perhaps), and
  // those of a restored node again (one may share its dot with a lost one).
  const most = held.length + (c.attempted - c.resolved.length) + c.afterRestore.length;
  if (total >= counted.length && total <= most) return undefined;
  const why = counted.length > total ? `the final state's history holds ${counted.length} of them (${counted.join(' ')})` : `its final state's history holds ${held.length} of them (${held.join(' ') || 'none'})`;
  return `counter ${key} (deleted and written again) = ${total}, but ${c.resolved.length} increments resolved of ${c.attempted} attempted; ${why}`;
}

/** An item's adds no remove of it nor delete of `key` saw, missing from the final set `present`; or one held unmade. */
export function checkDeletedSetItem(
  ledger: Ledger,
  key: string,
  item: string,
  present: ReadonlySet<string>,
  log: { added: readonly string[]; removed: readonly string[]; addsTried: number; removesTried: number },
  deletes: readonly Dot[],
  final: ReadonlyArray<KeyRecord['vs'][number]>,
): string | undefined {
  if (present.has(item)) {
    // An item's tag comes from an add in the history of the value holding it (every add of it resolved: an add that did
    // not may be held under a dot this log does not know).
    if (log.added.length < log.addsTried || log.added.some((d) => valueHistory(ledger, final).has(d))) return undefined;
    return `add-wins ${key} (deleted and written again) holds ${item}, but no add of it (${log.added.join(' ') || 'none'}) is in the history of its final state`;
  }
  // A remove that did not resolve may be durable, and have seen any add (its dot is not known here): none demanded.
  if (log.removed.length < log.removesTried) return undefined;
  const seen = seenBy(ledger, [...log.removed, ...deletes]);
  const unseen = log.added.filter((d) => d && !seen.has(d) && !ledger.isForgiven(d));
  if (unseen.length === 0) return undefined;
  return `add-wins ${key} (deleted and written again) lost ${item}: its add${unseen.length > 1 ? 's' : ''} ${unseen.join(' ')} seen by no remove of it (${log.removed.join(' ') || 'none'}) nor delete of ${key} (${deletes.join(' ') || 'none'})`;
}
