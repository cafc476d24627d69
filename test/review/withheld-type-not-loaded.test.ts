/**
 * A key this replica holds as deltas of a type not loaded here cannot go whole (wire.ts, TYPE_NOT_LOADED). It was left
 * out of the frame whole, context and all: a node that hears of the key only through this replica never learned that a
 * delete, since collected, superseded a version it holds — the deleted write stayed readable there. As for a state too
 * large for its link (fit-state.ts, withheld-collected-context.test.ts), the key now goes as its context alone,
 * without the entries of its versions' replicas, and stays withheld.
 */
import { describe, expect, it } from 'vitest';
import { derivedFrom } from '../../lib/deltas.js';
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { ConcordError } from '../../lib/errors.js';
import { encodeTyped } from '../../lib/values.js';
import { valueType } from '../../lib/typed.js';
import { connect, replica } from './narrow-links.js';
import { until } from '../sync/support.js';

const TYPE = 'not-loaded-here';

describe('a key held as deltas of a type not loaded here', () => {
  it('still takes its context to a peer: a write a collected delete superseded does not stay readable there', async () => {
    expect(valueType(TYPE)).toBeUndefined();
    const b = await replica();
    const d = await replica();
    const m = await replica();
    const errors: unknown[] = [];
    m.on('error', (e) => errors.push(e));
    // d holds b's write of k.
    const toD = connect(b, d);
    await (await b.space('s').put('k', 'deleted later')).synced;
    await until(async () => (await d.space('s').get('k'))?.value === 'deleted later', "d holds b's write");
    for (const l of toD) l.close();

    // m holds k as x:2, a delta over x:1 of a type this process never registered, under a context that covers b's
    // write and b's delete of it (b:2, a tombstone already collected): as a replica whose storage was written where the
    // type was loaded holds it once reopened without it.
    const x = 'writer-of-typed-value';
    const base: StoredVersion = { r: x, n: 1, t: Date.now(), c: 0, v: encodeTyped(TYPE, new Uint8Array([1, 2, 3])) };
    const derived = derivedFrom({ r: x, n: 2, t: Date.now(), c: 0 }, [base], new Uint8Array([4]), 1);
    const state: KeyState = { vs: [derived], cc: { [b.replicaId]: 2, [x]: 2 } };
    await m.core.join('s', [['k', state]]);

    connect(m, d);
    await (await m.space('s').put('other', 1)).synced;
    await until(async () => (await d.space('s').get('other'))?.value === 1, 'd caught up with m');
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'TYPE_NOT_LOADED'), 'k left out on the link');
    await until(async () => (await d.space('s').get('k')) === undefined, "b's deleted write gone from d", 2000).catch(() => {});
    expect(await d.space('s').get('k'), "b's deleted write, readable on d").toBeUndefined();
    const rec = await d.core.storage.get('s', 'k');
    expect(rec?.vs ?? [], 'd holds no version of k').toEqual([]);
    expect(rec?.cc[b.replicaId], "d knows of b's delete").toBe(2);
    // The typed version stays withheld from d: nothing of it there, and the key not counted held by d.
    expect(rec?.cc[x], 'no entry of the withheld version\'s writer').toBeUndefined();
    expect(m.core.acks.isWithheldFrom(d.replicaId, 's', 'k')).toBe(true);
  });
});
