/**
 * Errors with stable codes. Every error Concord throws on purpose is a `ConcordError`; its `code` is part
 * of the public contract (apps branch on it), its message is for people and may change.
 */

export type ConcordErrorCode =
  | 'INVALID_KEY'
  | 'INVALID_SPACE'
  | 'INVALID_CONTEXT'
  | 'INVALID_OPTION'
  | 'UNSERIALIZABLE_VALUE'
  | 'VALUE_TOO_LARGE'
  | 'FORBIDDEN'
  | 'LOCKED'
  | 'CLOSED'
  | 'CORRUPT'
  | 'STORAGE_FULL'
  | 'STORAGE_ERROR'
  | 'PROTOCOL'
  | 'UNAUTHORIZED'
  | 'MERGE_FAILED'
  | 'RESTORED'
  | 'INVALID_VALUE'
  | 'MISSING_DEPENDENCY';

export class ConcordError extends Error {
  override readonly name = 'ConcordError';
  constructor(
    readonly code: ConcordErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isConcordError(e: unknown, code?: ConcordErrorCode): e is ConcordError {
  return e instanceof ConcordError && (code === undefined || e.code === code);
}
