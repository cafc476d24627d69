/**
 * Where a caret goes when the text around it changes under it (a remote edit arrives while typing).
 * The change is taken as one replaced span (common prefix and suffix kept): a caret before the span
 * stays, a caret after it moves by the length difference, a caret inside it goes to the span's new end.
 */
export function moveCaret(before: string, after: string, caret: number): number {
  let start = 0;
  const limit = Math.min(before.length, after.length);
  while (start < limit && before[start] === after[start]) start++;
  let endBefore = before.length;
  let endAfter = after.length;
  while (endBefore > start && endAfter > start && before[endBefore - 1] === after[endAfter - 1]) {
    endBefore--;
    endAfter--;
  }
  if (caret <= start) return caret;
  if (caret >= endBefore) return caret + (after.length - before.length);
  return endAfter;
}
