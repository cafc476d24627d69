/**
 * The collaborative document: one key holding a `merges.text` document. Every keystroke is written with
 * `space.update` (see text-rebase.ts for why the edit is diffed against what the textarea showed);
 * remote changes replace the textarea's text with the caret kept in place where possible.
 *
 * Writes and refreshes run one at a time through `queue`; a refresh that finds the person typed while
 * it was reading leaves the textarea alone (the pending write then brings the remote text in).
 */
import { merges } from '../../lib/index.js';
import type { TextDoc } from '../../lib/merges/index.js';
import { DOC_KEY, type App } from './app.js';
import { moveCaret } from './caret.js';
import { byId } from './dom.js';
import { rebaseEdit } from './text-rebase.js';

const { text } = merges;

export function mountDoc(app: App): void {
  const area = byId<HTMLTextAreaElement>('doc');
  const info = byId('doc-info');
  let shown: TextDoc = text.empty();
  let queue: Promise<void> = Promise.resolve();
  let scheduled = false;

  const show = (doc: TextDoc) => {
    const next = text.value(doc);
    shown = doc;
    const lines = text.visibleLines(doc);
    const authors = new Set(lines.map((l) => l.r)).size;
    info.textContent = `${lines.length} ${lines.length === 1 ? 'line' : 'lines'} · ${authors} ${authors === 1 ? 'author' : 'authors'}`;
    const before = area.value;
    if (before === next) return;
    const focused = document.activeElement === area;
    const [start, end, dir] = [area.selectionStart, area.selectionEnd, area.selectionDirection];
    area.value = next;
    if (focused) area.setSelectionRange(moveCaret(before, next, start), moveCaret(before, next, end), dir);
  };

  /** Writes what was typed (if anything), then shows the stored document unless the person typed meanwhile. */
  const flush = async () => {
    scheduled = false;
    const typed = area.value;
    if (typed !== text.value(shown)) {
      const base = shown;
      let nextShown = base;
      const w = await app.space.update<TextDoc>(DOC_KEY, (cur) => {
        const r = rebaseEdit(cur, base, app.replica.replicaId, typed);
        nextShown = r.shown;
        return r.stored;
      });
      shown = nextShown;
      app.wrote('edit document', w);
    }
    const read = await app.space.get<TextDoc>(DOC_KEY);
    if (area.value === typed && read) show(read.value);
  };

  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    queue = queue.then(flush).catch((e: unknown) => console.error('document:', e));
  };

  area.addEventListener('input', schedule);
  // Remote changes, and this device's other tabs (their writes arrive as local changes too).
  app.space.subscribe(DOC_KEY, schedule);
  schedule();
}
