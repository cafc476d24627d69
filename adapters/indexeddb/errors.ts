/**
 * IndexedDB failures as ConcordErrors with stable codes. Pure: decides from the DOMException name only.
 *
 * - QuotaExceededError → 'STORAGE_FULL' (the origin's quota is used up; nothing of the transaction was kept).
 * - A connection that is gone (closed by a version change elsewhere, by the browser clearing storage, or
 *   a backend failure reported as UnknownError/InvalidStateError) is "lost": the adapter reopens and retries
 *   the transaction once before reporting 'STORAGE_ERROR'.
 */
import { ConcordError } from '../../lib/errors.js';

const LOST = new Set(['InvalidStateError', 'UnknownError']);

function errorName(e: unknown): string | undefined {
  return e !== null && typeof e === 'object' && typeof (e as { name?: unknown }).name === 'string' ? (e as { name: string }).name : undefined;
}

export function isLostConnection(e: unknown): boolean {
  const name = errorName(e);
  return name !== undefined && LOST.has(name);
}

export function storageError(e: unknown, what: string): unknown {
  if (e instanceof ConcordError) return e;
  const name = errorName(e);
  if (name === 'QuotaExceededError') {
    return new ConcordError(
      'STORAGE_FULL',
      `IndexedDB is full: the browser refused to store more for this origin (QuotaExceededError) while ${what}; nothing of that transaction was kept. Free space or delete data, then retry.`,
      { cause: e },
    );
  }
  if (name === 'VersionError') {
    return new ConcordError('STORAGE_ERROR', `IndexedDB: the database was upgraded by a newer version of the app in another tab; reload this tab (${what})`, { cause: e });
  }
  const detail = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  return new ConcordError('STORAGE_ERROR', `IndexedDB failed while ${what}: ${detail}`, { cause: e });
}
