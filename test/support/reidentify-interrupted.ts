/**
 * A re-identification interrupted after its first transaction (lib/reidentify.ts): a storage whose transactions fail
 * where a test arms them, and a replica that re-identifies with a write since the restore (k1) and one a join dropped
 * (k2). Shared by test/review/reidentify-interrupted and reidentify-left.
 */
import { expect } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { openReplica, type Replica } from '../../lib/index.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { SPEAKS_10 } from './raw-versions.js';

/** Replicas a test opened, closed by its afterEach (`closeOpened`). */
const opened: Replica[] = [];
export const keepToClose = (r: Replica): Replica => (opened.push(r), r);
export async function closeOpened(): Promise<void> {
  for (const r of opened.splice(0).reverse()) await r.close().catch(() => {});
}

export interface Failing {
  storage: StorageAdapter;
  /**
   * The transactions at these positions fail once each (1: the next one), counted from the arming; at a position given
   * with a function, that runs instead (a crash: the transaction then meets the dead storage).
   */
  arm(...at: Array<number | readonly [number, () => void]>): void;
  disarm(): void;
  /** Runs once, after the next `index` read (the keys past a restore point are read then). */
  afterIndex?: () => Promise<void>;
}

/** `inner`, whose transactions fail once each at the positions armed. */
export function failing(inner: StorageAdapter): Failing {
  let count = 0;
  let at = new Map<number, (() => void) | undefined>();
  const arm = (positions: Array<number | readonly [number, () => void]>) => new Map(positions.map((p) => (typeof p === 'number' ? [p, undefined] : p)));
  const out: Failing = { storage: inner, arm: (...positions) => void ((count = 0), (at = arm(positions))), disarm: () => void (at = new Map()) };
  out.storage = new Proxy(inner, {
    get(target, name) {
      if (name === 'index') {
        return async (space: string) => {
          const entries = await target.index(space);
          const hook = out.afterIndex;
          out.afterIndex = undefined;
          await hook?.();
          return entries;
        };
      }
      if (name === 'transact') {
        return <T>(fn: Parameters<StorageAdapter['transact']>[0]): Promise<T> => {
          count++;
          const act = at.get(count);
          if (at.delete(count)) {
            if (!act) return Promise.reject(new ConcordError('STORAGE_FULL', `transaction ${count} failed (test)`));
            act();
          }
          return target.transact(fn) as Promise<T>;
        };
      }
      const v = Reflect.get(target, name) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return out;
}

export const codes = (errors: unknown[]) => errors.map((e) => (e as { code?: string }).code);
export const versionsOf = async (r: Replica, key: string) => ((await r.space('s').get(key))?.versions ?? []).map((v) => [v.replicaId, v.value]);

/**
 * A replica opened a second time (the restore point is this open), that wrote k1 and k2 since; a peer's state then
 * superseded k2's write by a context covering its dot (the join drops it and notes it). The re-identification's
 * transactions fail where `fail` says (1: its first), or `fail` runs just before it starts (a power failure armed).
 */
export async function interrupted(storage: StorageAdapter, fail: number[] | (() => void), meanwhile?: () => Promise<void>) {
  const f = failing(storage);
  await (await openReplica({ storage: f.storage, speaks: SPEAKS_10 })).close();
  const r = keepToClose(await openReplica({ storage: f.storage, speaks: SPEAKS_10 }));
  const errors: unknown[] = [];
  r.on('error', (e) => void errors.push(e));
  const changes: Array<[string, string | undefined]> = [];
  r.core.events.on('change', (c) => void changes.push([c.key, c.rec.vs.map((v) => v.r).join(',')]));
  const oldId = r.replicaId;
  await r.space('s').put('k1', 'since the restore');
  const w2 = await r.space('s').put('k2', 'dropped by a join');
  await r.core.join('s', [['k2', { vs: [{ r: 'peer', n: 1, t: 1, c: 0, v: '"theirs"' }], cc: { peer: 1, [oldId]: w2.seq } }]]);
  expect(await versionsOf(r, 'k2'), 'the join dropped our write').toEqual([['peer', 'theirs']]);
  if (typeof fail === 'function') fail();
  else f.arm(...fail);
  if (meanwhile) f.afterIndex = meanwhile;
  const outcome = await r.core.reidentify('a-peer').then(
    () => 'done',
    (e: unknown) => e,
  );
  f.disarm();
  return { r, f, oldId, errors, changes, outcome, k2Seq: w2.seq };
}

/** Every write since the restore point is under `r`'s (new) id: k1's, and k2's that the join had dropped. */
export async function allReissued(r: Replica, oldId: string) {
  expect(r.replicaId).not.toBe(oldId);
  expect(await versionsOf(r, 'k1')).toEqual([[r.replicaId, 'since the restore']]);
  expect((await versionsOf(r, 'k2')).sort()).toEqual([[r.replicaId, 'dropped by a join'], ['peer', 'theirs']].sort());
}
