/**
 * A text merge for note siblings (plain strings): every line of every version, once, in an order that
 * respects each version's own order where they agree. Versions are taken in the order given (latest HLC
 * first, as `get` lists siblings); lines a later version adds are placed after the nearest line it shares
 * with the result so far. Deterministic for a given order of versions.
 *
 *   mergeLines(['a\nb\nc', 'a\nx\nc'])  →  'a\nb\nx\nc'
 */
export function mergeLines(versions: readonly string[]): string {
  const out: string[] = [];
  for (const version of versions) {
    let at = -1; // index in `out` of the last line of this version found there
    for (const line of version.split('\n')) {
      const found = out.indexOf(line, at + 1);
      if (found >= 0) {
        at = found;
      } else {
        out.splice(at + 1, 0, line);
        at++;
      }
    }
  }
  return out.join('\n');
}
