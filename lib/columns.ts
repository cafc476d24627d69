/**
 * Numbers kept per slot in Float64Array chunks outside the collected heap (memory-records.ts RecordTable, the peer
 * model's sync/model-states.ts): slot s holds `nums` numbers at `(s & (2^shift - 1)) * nums` of chunk `s >> shift`. The
 * first chunk starts at 64 slots and doubles up to 2^shift, then whole chunks are added: a full chunk is never copied,
 * and a table of a few slots stays small. Called for each slot past the last (`chunks` starts empty).
 */
export function roomFor(chunks: Float64Array[], slot: number, nums: number, shift: number): void {
  const c = slot >> shift;
  const chunk = chunks[c];
  const full = nums << shift;
  if (chunk === undefined) chunks.push(new Float64Array(c === 0 ? Math.min(nums * 64, full) : full));
  else if ((slot & ((1 << shift) - 1)) * nums >= chunk.length) {
    const grown = new Float64Array(Math.min(chunk.length * 2, full));
    grown.set(chunk);
    chunks[c] = grown;
  }
}
