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

// Every branch above runs here, at load, on tables of their own. V8 inlines roomFor into its callers (RecordTable's set,
// ModelStates's put, and so the storage's commit) and optimizes them long before most tables grow past 64 slots; a
// branch it never saw run is compiled as a deoptimization, so the first table to grow threw every optimized caller back
// to the interpreter, and the recompile came some writes later: in S7 both client workers at the same write (its 65th
// key, then again at the recompile), seen with `node --trace-deopt`. Twice through: V8 keeps no feedback of a function's
// first calls (it allocates its feedback vector lazily), so the second table's growth is the one it sees.
for (let round = 0; round < 2; round++) {
  const warm: Float64Array[] = [];
  for (let slot = 0; slot <= 128; slot++) roomFor(warm, slot, 1, 7);
}
