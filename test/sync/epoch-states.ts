/** States naming epochs for the protocol 11 codec tests (epoch-wire, epoch-link-table). */
import type { Causal } from '../../lib/dvv.js';
import type { Point } from '../../lib/epoch-points.js';

/**
 * An explicit causal context of `dots` (replica, epoch, counter): per replica and epoch the highest counter, sorted by
 * (epoch, counter); the vector each replica's highest; points only for a replica with a tagged one.
 */
export function explicitContext(dots: Iterable<readonly [string, string, number]>): Causal {
  const tops = new Map<string, Map<string, number>>();
  for (const [r, e, n] of dots) {
    const m = tops.get(r) ?? new Map<string, number>();
    tops.set(r, m);
    m.set(e, Math.max(m.get(e) ?? 0, n));
  }
  const cc: Record<string, number> = {};
  const pts: Record<string, Point[]> = {};
  for (const [r, m] of tops) {
    const points = [...m].map(([e, n]) => ({ e, n })).sort((a, b) => (a.e < b.e ? -1 : a.e > b.e ? 1 : a.n - b.n));
    cc[r] = Math.max(...points.map((p) => p.n));
    if (points.some((p) => p.e !== '')) pts[r] = points;
  }
  return Object.keys(pts).length > 0 ? { cc, pts } : { cc };
}
