/**
 * A text merge for note siblings (plain strings): every line of every version, once, in an order that
 * respects each version's own order where they agree. Versions are taken in the order given (latest HLC
 * first, as `get` lists siblings); the lines a later version adds go just before the next line it shares
 * with the result so far (after what earlier versions put there), or at the end. Deterministic for a
 * given order of versions.
 *
 *   mergeLines(['a\nb\nc', 'a\nx\nc'])  →  'a\nb\nx\nc'
 */
export function mergeLines(versions: readonly string[]): string {
  const out: string[] = [];
  for (const version of versions) {
    let at = -1; // index in `out` of the last line of this version found there
    let pending: string[] = []; // lines of this version not found yet, waiting for their next anchor
    for (const line of version.split('\n')) {
      const found = out.indexOf(line, at + 1);
      if (found < 0) {
        pending.push(line);
        continue;
      }
      out.splice(found, 0, ...pending);
      at = found + pending.length;
      pending = [];
    }
    out.push(...pending);
  }
  return out.join('\n');
}
