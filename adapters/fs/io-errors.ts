/**
 * Maps Node file-system errors to ConcordError codes, with a message that says what was being done:
 * ENOSPC / EDQUOT → 'STORAGE_FULL'; EACCES / EPERM / EROFS → 'STORAGE_ERROR' (permission);
 * anything else → 'STORAGE_ERROR'. ConcordErrors pass through unchanged. The cause is kept.
 */
import { ConcordError } from '../../lib/errors.js';

export function errnoCode(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function ioError(e: unknown, doing: string): ConcordError {
  if (e instanceof ConcordError) return e;
  const code = errnoCode(e);
  const detail = e instanceof Error ? e.message : String(e);
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new ConcordError('STORAGE_FULL', `disk full while ${doing}: nothing of this write was kept (${detail})`, { cause: e });
  }
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    return new ConcordError('STORAGE_ERROR', `permission denied while ${doing} (${detail})`, { cause: e });
  }
  return new ConcordError('STORAGE_ERROR', `file storage failed while ${doing} (${detail})`, { cause: e });
}
