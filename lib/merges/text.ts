/**
 * A text document whose lines carry ids: a small sequence CRDT (RGA, Roh et al. 2011, over lines).
 *
 * Each line has an id (replicaId, counter) and the id of the line it was inserted after; a deleted line
 * stays as a tombstone. The visible order is a depth-first walk of the "inserted after" tree, where the
 * lines inserted after the same line come newest first (counters are Lamport clocks: a new line's
 * counter exceeds every counter in the document). So concurrent inserts never interleave, and merging
 * two documents is a union of lines with deletions or-ed: a join, with no line lost or duplicated.
 * Editing a line is deleting it and inserting its new text; two people editing one line concurrently
 * both keep their line.
 *
 *   let doc = text.from('hello\nworld', replicaId);
 *   doc = text.edit(doc, replicaId, 'hello\nbrave new\nworld');   // a plain-text edit, diffed by lines
 *   text.value(doc)   // → 'hello\nbrave new\nworld'
 *
 * Edit through `space.update` so one replica never mints the same counter twice.
 */
import type { MergeFn } from '../types.js';

export interface TextLine {
  readonly r: string;
  readonly n: number;
  /** The line this one was inserted after: [replicaId, counter], or null for the start of the document. */
  readonly after: readonly [string, number] | null;
  readonly text: string;
  readonly deleted?: true;
}

export interface TextDoc {
  readonly lines: readonly TextLine[];
}

const ROOT = '';
const idOf = (r: string, n: number) => n + '.' + r;

function compareIds(a: TextLine, b: TextLine): number {
  return a.n !== b.n ? a.n - b.n : a.r < b.r ? -1 : a.r > b.r ? 1 : 0;
}

function check(doc: unknown): TextDoc {
  const d = doc as TextDoc;
  if (!d || typeof d !== 'object' || !Array.isArray(d.lines)) {
    throw new TypeError('merges.text works on text documents (text.from(), text.edit())');
  }
  return d;
}

export function empty(): TextDoc {
  return { lines: [] };
}

/** The live lines in document order. */
export function visibleLines(doc: TextDoc): TextLine[] {
  const children = new Map<string, TextLine[]>();
  for (const line of check(doc).lines) {
    const parent = line.after ? idOf(line.after[0], line.after[1]) : ROOT;
    let list = children.get(parent);
    if (!list) children.set(parent, (list = []));
    list.push(line);
  }
  // Newest first among lines inserted after the same line; a stack, so push in reverse.
  for (const list of children.values()) list.sort((a, b) => compareIds(a, b));
  const out: TextLine[] = [];
  const stack: TextLine[] = [...(children.get(ROOT) ?? [])];
  while (stack.length > 0) {
    const line = stack.pop()!;
    if (!line.deleted) out.push(line);
    const kids = children.get(idOf(line.r, line.n));
    if (kids) stack.push(...kids);
  }
  return out;
}

export function value(doc: TextDoc | undefined): string {
  return doc ? visibleLines(doc).map((l) => l.text).join('\n') : '';
}

export function from(text: string, replicaId: string): TextDoc {
  return edit(empty(), replicaId, text);
}

/** Applies a plain-text edit: the lines that changed between `value(doc)` and `next` are deleted and inserted. */
export function edit(doc: TextDoc | undefined, replicaId: string, next: string): TextDoc {
  const d = doc ? check(doc) : empty();
  const old = visibleLines(d);
  const want = next.split('\n');
  const keep = commonLines(old.map((l) => l.text), want);
  let counter = d.lines.reduce((m, l) => Math.max(m, l.n), 0);
  const removed = new Set<TextLine>(old);
  const added: TextLine[] = [];
  let prev: readonly [string, number] | null = null;
  let k = 0;
  for (let j = 0; j < want.length; j++) {
    const pair = keep[k];
    if (pair && pair[1] === j) {
      const line = old[pair[0]]!;
      removed.delete(line);
      prev = [line.r, line.n];
      k++;
      continue;
    }
    const line: TextLine = { r: replicaId, n: ++counter, after: prev, text: want[j]! };
    added.push(line);
    prev = [line.r, line.n];
  }
  if (removed.size === 0 && added.length === 0) return d;
  const lines = d.lines.map((l) => (removed.has(l) ? { ...l, deleted: true as const } : l)).concat(added);
  return { lines: lines.sort(compareIds) };
}

/** Index pairs [i, j] of a longest common subsequence of two line lists, in order. */
function commonLines(a: readonly string[], b: readonly string[]): Array<[number, number]> {
  let start = 0;
  while (start < a.length && start < b.length && a[start] === b[start]) start++;
  let endA = a.length;
  let endB = b.length;
  while (endA > start && endB > start && a[endA - 1] === b[endB - 1]) {
    endA--;
    endB--;
  }
  const pairs: Array<[number, number]> = [];
  for (let i = 0; i < start; i++) pairs.push([i, i]);
  const n = endA - start;
  const m = endB - start;
  if (n > 0 && m > 0 && n * m <= 4_000_000) {
    // Classic LCS table over the changed middle (bounded: a huge rewrite just replaces the middle).
    const table = new Uint32Array((n + 1) * (m + 1));
    for (let i = n - 1; i >= 0; i--) {
      for (let j = m - 1; j >= 0; j--) {
        table[i * (m + 1) + j] =
          a[start + i] === b[start + j] ? table[(i + 1) * (m + 1) + j + 1]! + 1 : Math.max(table[(i + 1) * (m + 1) + j]!, table[i * (m + 1) + j + 1]!);
      }
    }
    let i = 0;
    let j = 0;
    while (i < n && j < m) {
      if (a[start + i] === b[start + j]) {
        pairs.push([start + i, start + j]);
        i++;
        j++;
      } else if (table[(i + 1) * (m + 1) + j]! >= table[i * (m + 1) + j + 1]!) i++;
      else j++;
    }
  }
  for (let i = 0; i < a.length - endA; i++) pairs.push([endA + i, endB + i]);
  return pairs;
}

function join(a: TextDoc, b: TextDoc): TextDoc {
  const byId = new Map<string, TextLine>();
  for (const line of a.lines) byId.set(idOf(line.r, line.n), line);
  for (const line of b.lines) {
    const id = idOf(line.r, line.n);
    const mine = byId.get(id);
    if (!mine) byId.set(id, line);
    else if (line.deleted && !mine.deleted) byId.set(id, line);
  }
  return { lines: [...byId.values()].sort(compareIds) };
}

export const merge: MergeFn<TextDoc> = (siblings) => siblings.map(check).reduce(join);
