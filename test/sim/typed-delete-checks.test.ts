/**
 * The checks of deleted typed keys (typed-delete-checks.ts) can fail, and demand no more than the semantics give: given
 * a history made through the ledger's spy (a delete by e while w, away, writes its old copy), each reports the outcome
 * that loses a write and passes the ones the merges allow.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadHasher } from '../../lib/hash.js';
import { record as makeRecord } from '../../lib/record.js';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { dotOf, Ledger } from './ledger.js';
import { checkDeletedCounter, checkDeletedSetItem } from './typed-delete-checks.js';

const value = (r: string, n: number, v: unknown): StoredVersion => ({ r, n, t: n, c: 0, v: JSON.stringify(v) });
const tombstone = (r: string, n: number): StoredVersion => ({ r, n, t: n, c: 0, d: 1 });

/** A node's disk the ledger sees: `store` writes a state of k (its own write where it holds a new own version). */
function node(ledger: Ledger, name: string, id: string) {
  const held = new Map<string, KeyRecord>();
  const tx: StorageTx = { get: (_s, k) => held.get(k), put: (_s, k, r) => void held.set(k, r), remove: (_s, k) => void held.delete(k), getMeta: () => undefined, setMeta: () => {} };
  const inner = { transact: async <T>(fn: (t: StorageTx) => T) => fn(tx) } as unknown as StorageAdapter;
  const disk = ledger.spy(name, inner, (r) => r === id);
  return {
    store: (state: KeyState, seq: number) => disk.transact((t) => (t.get('s', 'k'), t.put('s', 'k', makeRecord('k', state, seq)))),
    final: () => held.get('k')!.vs,
  };
}

/**
 * e writes k (E1), w receives it and goes away; e deletes k (E2) and writes it again (E3) from the empty state; w
 * writes its old copy (W1, concurrent with the delete). Both end holding E3 and W1. `values`: the three writes' values.
 */
async function deletedWhileAway(values: { e1: unknown; e3: unknown; w1: unknown }) {
  const ledger = new Ledger();
  const e = node(ledger, 'e', 'E');
  const w = node(ledger, 'w', 'W');
  const e1 = value('E', 1, values.e1);
  await e.store({ vs: [e1], cc: { E: 1 } }, 1);
  await w.store({ vs: [e1], cc: { E: 1 } }, 1); // a join: not w's write
  await e.store({ vs: [tombstone('E', 2)], cc: { E: 2 } }, 2);
  const e3 = value('E', 3, values.e3);
  await e.store({ vs: [e3], cc: { E: 3 } }, 3);
  const w1 = value('W', 1, values.w1);
  await w.store({ vs: [w1], cc: { E: 1, W: 1 } }, 1);
  const both: KeyState = { vs: [e3, w1], cc: { E: 3, W: 1 } };
  await e.store(both, 4);
  await w.store(both, 2);
  return { ledger, final: e.final(), dots: { e1: dotOf('E', 1), e2: dotOf('E', 2), e3: dotOf('E', 3), w1: dotOf('W', 1) } };
}

describe('checks of deleted typed keys', () => {
  beforeAll(() => loadHasher());

  it('a counter: every increment of the final state\'s history counts, those only a delete saw need not', async () => {
    // E1 = {E: 1}, E3 after the delete, W1 = {E: 1, W: 1} over w's old copy.
    const { ledger, final, dots } = await deletedWhileAway({ e1: { p: { E: 1 } }, e3: { p: { E: 1 } }, w1: { p: { E: 1, W: 1 } } });
    const c = { resolved: [dots.e1, dots.e3, dots.w1], afterRestore: [], attempted: 3 };
    // E3's increment absorbed by the old entry W1 brought back (a per-replica maximum: 2) is lost.
    expect(checkDeletedCounter(ledger, 'k', 2, final, c)).toMatch(/^counter k \(deleted and written again\) = 2, but 3 increments resolved of 3 attempted; the final state's history holds 3/);
    // Counted apart (merges/counter.ts incarnations): 3.
    expect(checkDeletedCounter(ledger, 'k', 3, final, c)).toBeUndefined();
    // More than the history's increments is reported too.
    expect(checkDeletedCounter(ledger, 'k', 4, final, c)).toMatch(/= 4/);
    // Where nothing concurrent with the delete survives, E3 alone counts: E1 went with the delete, and may not come
    // back.
    const eOnly = final.filter((v) => v.r === 'E');
    expect(checkDeletedCounter(ledger, 'k', 1, eOnly, c)).toBeUndefined();
    expect(checkDeletedCounter(ledger, 'k', 0, eOnly, c)).toMatch(/history holds 1 of them \(E:3\)/);
    expect(checkDeletedCounter(ledger, 'k', 2, eOnly, c)).toMatch(/= 2, .*its final state's history holds 1 of them \(E:3\)/);
    // An increment that did not resolve may be held: one more is allowed then.
    expect(checkDeletedCounter(ledger, 'k', 2, eOnly, { ...c, attempted: 4 })).toBeUndefined();
  });

  it('a set: an add no remove of its item nor delete of the key saw is kept; one the delete saw may go', async () => {
    const { ledger, final, dots } = await deletedWhileAway({ e1: ['apple'], e3: ['pear'], w1: ['apple', 'fig'] });
    const deletes = ledger.deletesOf('s', 'k');
    expect(deletes).toEqual([dots.e2]);
    const judge = (item: string, present: string[], added: string[], removed: string[] = [], vs = final) =>
      checkDeletedSetItem(ledger, 'k', item, new Set(present), { added, removed, addsTried: added.length, removesTried: removed.length }, deletes, vs);
    // pear, added after the delete, and fig, added by w away at it: demanded.
    expect(judge('pear', ['apple', 'fig'], [dots.e3])).toMatch(/lost pear: its add E:3 seen by no remove of it \(none\) nor delete of k \(E:2\)/);
    expect(judge('fig', ['apple', 'pear'], [dots.w1])).toMatch(/lost fig/);
    expect(judge('pear', ['fig', 'pear'], [dots.e3])).toBeUndefined();
    // apple, added before the delete that saw it: back with w's write or deleted, either passes.
    expect(judge('apple', ['fig', 'pear'], [dots.e1])).toBeUndefined();
    // But only where a write concurrent with the delete brought it: with E3 alone, apple is back from nowhere.
    const eOnly = final.filter((v) => v.r === 'E');
    expect(judge('apple', ['apple', 'pear'], [dots.e1], [], eOnly)).toMatch(/holds apple, but no add of it \(E:1\) is in the history of its final state/);
    expect(judge('pear', ['apple', 'pear'], [dots.e3], [], eOnly)).toBeUndefined();
    // An add that did not resolve may be held under a dot the log does not know: not judged then.
    expect(checkDeletedSetItem(ledger, 'k', 'apple', new Set(['apple']), { added: [dots.e1], removed: [], addsTried: 2, removesTried: 0 }, deletes, eOnly)).toBeUndefined();
    // A remove that saw the add (here: W1 superseded E1) excuses it; one that saw nothing of it does not.
    const noDelete = checkDeletedSetItem(ledger, 'k', 'apple', new Set(), { added: [dots.e1], removed: [dots.w1], addsTried: 1, removesTried: 1 }, [], final);
    expect(noDelete).toBeUndefined();
    const fig = { added: [dots.w1], removed: [dots.e3], addsTried: 1, removesTried: 1 };
    expect(checkDeletedSetItem(ledger, 'k', 'fig', new Set(), fig, [], final)).toMatch(/lost fig/);
    // A remove that did not resolve may have seen it: not judged then.
    expect(checkDeletedSetItem(ledger, 'k', 'fig', new Set(), { ...fig, removesTried: 2 }, [], final)).toBeUndefined();
  });
});
