/**
 * Applying a textarea edit to the stored document without undoing what arrived meanwhile.
 *
 * The textarea shows `shown` (a text document). The person turns its text into `typed`. Meanwhile the
 * stored document `current` may hold lines from other devices that the textarea does not show yet.
 * `text.edit(current, typed)` would read those lines as deleted by the person; instead we diff against
 * `shown` and join the result into `current`:
 *
 *   edited  = text.edit(shown, typed)        // deletions of shown lines, new lines with fresh ids
 *   result  = merges.text([current, edited'])  // a union of lines, deletions or-ed: nothing of `current` is lost
 *
 * where `edited'` renumbers the new lines above every counter of `current` (a line id names one line
 * forever; another tab of this device may have written lines `shown` lacks). Renumbering all new lines by
 * one shift keeps their order among themselves and above the lines they were inserted after.
 */
import { merges } from '../../lib/index.js';
import type { TextDoc, TextLine } from '../../lib/merges/index.js';

const { text } = merges;

const maxCounter = (doc: TextDoc) => doc.lines.reduce((m, l) => Math.max(m, l.n), 0);
const idOf = (r: string, n: number) => `${n}.${r}`;

export interface Rebased {
  /** The document to store: `current` with the edit joined in. */
  readonly stored: TextDoc;
  /** `shown` with the edit applied (its text is `typed`): what the textarea holds now. */
  readonly shown: TextDoc;
}

export function rebaseEdit(current: TextDoc | undefined, shown: TextDoc, replicaId: string, typed: string): Rebased {
  const edited = text.edit(shown, replicaId, typed);
  const cur = current ?? text.empty();
  if (edited === shown) return { stored: cur, shown };
  const before = new Set(shown.lines.map((l) => idOf(l.r, l.n)));
  const shift = Math.max(0, maxCounter(cur) - maxCounter(shown));
  const fresh = new Set<string>();
  for (const l of edited.lines) if (!before.has(idOf(l.r, l.n))) fresh.add(idOf(l.r, l.n));
  const renumber = (l: TextLine): TextLine => {
    if (!fresh.has(idOf(l.r, l.n))) return l;
    const after = l.after && fresh.has(idOf(l.after[0], l.after[1])) ? ([l.after[0], l.after[1] + shift] as const) : l.after;
    return { ...l, n: l.n + shift, after };
  };
  const moved: TextDoc = { lines: edited.lines.map(renumber) };
  const info = { key: 'doc', space: 'demo', versions: [] };
  return { stored: text([cur, moved], info), shown: text([shown, moved], info) };
}
