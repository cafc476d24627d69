/**
 * Durations for options and the command line: a number of seconds, or text such as `90`, `30s`, `15m`,
 * `1h`, `7d`. Pure; throws ConcordError 'INVALID_OPTION' on anything else (no silent zero).
 */
import { ConcordError } from '../../lib/errors.js';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

export function parseDuration(input: number | string, what = 'duration'): number {
  if (typeof input === 'number') {
    if (Number.isFinite(input) && input > 0) return input;
    throw new ConcordError('INVALID_OPTION', `${what} must be a positive number of seconds, got ${input}`);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$/.exec(String(input));
  const n = m ? Number(m[1]) * (UNIT_SECONDS[m[2] || 's'] ?? 1) : NaN;
  if (!(n > 0) || !Number.isFinite(n)) {
    throw new ConcordError('INVALID_OPTION', `${what} "${input}" is not a duration such as 90, 30s, 15m, 1h or 7d`);
  }
  return n;
}
