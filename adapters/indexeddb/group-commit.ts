/**
 * One group commit: the callbacks of several `transact` calls run as one readwrite IndexedDB transaction
 * with strict durability, whose records are written as one `batches` row (see tx.ts for how each stays all-or-nothing and sees its predecessors' writes).
 *
 * Outcomes: 'done' (committed durably; each callback's own result or error), 'lost' (the connection went
 * away: nothing committed, the caller may retry on a new connection), 'inactive' (a callback let the
 * transaction end by awaiting something else: nothing was written), 'failed' (the transaction failed:
 * nothing committed).
 */
import { ConcordError } from '../../lib/errors.js';
import type { StorageTx } from '../../lib/storage.js';
import { isLostConnection } from './errors.js';
import { STORES, type BatchRow, type Db } from './schema.js';
import type { BatchCache } from './overlay.js';
import { Batch, BatchTx, type WriteTx } from './tx.js';

export interface Job {
  fn: (tx: StorageTx) => unknown;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Runs in a transaction of its own (after a batch ended early, to single out the culprit). */
  solo?: boolean;
}

export type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

export type GroupResult = { kind: 'done'; outcomes: Outcome[]; spaces: string[] } | { kind: 'lost' | 'failed' | 'inactive'; error: unknown };

/**
 * Runs the jobs' callbacks as one readwrite transaction (see tx.ts) and waits for its durable commit; the batch row
 * it added is cached in `cache` once committed.
 */
export async function runGroup(db: Db, jobs: readonly Job[], cache: BatchCache): Promise<GroupResult> {
  let tx: WriteTx;
  try {
    tx = db.transaction([...STORES], 'readwrite', { durability: 'strict' });
  } catch (e) {
    return { kind: isLostConnection(e) ? 'lost' : 'failed', error: e };
  }
  const done = tx.done;
  // Committed before our flush: a callback let the transaction end (nothing of the batch was written).
  let endedEarly = false;
  done.then(() => (endedEarly = true), () => {});
  const early = (e: unknown) => isInactive(e) || endedEarly;
  const batch = new Batch(tx, cache);
  const turns = jobs.map(() => deferred());
  const views = jobs.map((_, i) => new BatchTx(batch, turns[i]!.promise));
  // Every callback starts now (its first read is issued at once); each read resolves at its turn.
  const runs = jobs.map((job, i) => settle(() => job.fn(views[i]!)));
  batch.startReads();
  const outcomes: Outcome[] = [];
  let inactive: unknown;
  for (let i = 0; i < jobs.length; i++) {
    turns[i]!.resolve();
    const outcome = await runs[i]!;
    views[i]!.finish();
    if (outcome.ok) batch.absorb(views[i]!.writes, views[i]!.meta);
    else if (early(outcome.error)) inactive ??= outcome.error;
    outcomes.push(outcome);
  }
  let spaces: string[] = [];
  let rows: BatchRow[] = [];
  // Whether batches wait decides the form of the writes (tx.ts flush): the first request, answered by now as a rule.
  if (inactive === undefined) await batch.overlayLoaded();
  if (inactive === undefined) {
    try {
      ({ spaces, rows } = batch.flush());
    } catch (e) {
      if (!early(e)) {
        abort(tx);
        return { kind: 'failed', error: e };
      }
      inactive = e;
    }
  }
  if (inactive === undefined && endedEarly) inactive = new DOMException('transaction ended early', 'TransactionInactiveError');
  if (inactive !== undefined) {
    abort(tx);
    return { kind: 'inactive', error: inactive };
  }
  try {
    await done;
  } catch (e) {
    return { kind: isLostConnection(e) ? 'lost' : 'failed', error: e };
  }
  // Committed: the add succeeded before the commit, so the row has its id.
  for (const row of rows) if (row.i !== undefined) cache.added(row);
  return { kind: 'done', outcomes, spaces };
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function settle(fn: () => unknown): Promise<Outcome> {
  try {
    return { ok: true, value: await fn() };
  } catch (error) {
    return { ok: false, error };
  }
}

function abort(tx: WriteTx): void {
  try {
    tx.abort();
  } catch {
    // Already finished.
  }
}

export function isInactive(e: unknown): boolean {
  return e !== null && typeof e === 'object' && (e as { name?: unknown }).name === 'TransactionInactiveError';
}

export function inactiveError(e: unknown): ConcordError {
  return new ConcordError('STORAGE_ERROR', 'the IndexedDB transaction ended early: a transact() callback awaited something other than a tx read', { cause: e });
}
