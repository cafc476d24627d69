/**
 * Notes: each note a key holding a plain string, with no merge function, so concurrent edits stay
 * siblings and the person resolves them. The conflict view lists every surviving version (`get`'s
 * `versions`): who wrote it (replicaId), when (HLC ms), its dot, and the read's context (notation.ts). Keep
 * one, keep the deletion (an edit concurrent with a delete), merge their lines, or edit a combination: the
 * resolution is written (or deleted) with the read's context, so it supersedes exactly the versions shown, and
 * the conflict clears on every device.
 */
import type { GetResult, VersionInfo } from '../../lib/index.js';
import { NOTE_PREFIX, type App } from './app.js';
import { byId, clock, h, shown } from './dom.js';
import { formatContext, formatDot, short } from './notation.js';
import { mergeLines } from './line-merge.js';

interface NoteRow {
  readonly key: string;
  readonly title: string;
  readonly conflict: boolean;
}

const titleOf = (text: string) => text.split('\n')[0]?.trim() || 'Untitled';

/** Mounts the notes panel; returns a function that re-renders it when device names become known. */
export function mountNotes(app: App, names: (replicaId: string) => string | undefined): () => void {
  const list = byId<HTMLUListElement>('notes-list');
  const detail = byId('note-detail');
  const newButton = byId<HTMLButtonElement>('note-new');
  let selected: string | undefined;
  /** Notes in the list as last rendered (undefined before the first scan). */
  let noteCount: number | undefined;
  /** The read the open editor started from, and whether the person changed the text since. */
  let editing: { key: string; read: GetResult<string>; dirty: boolean } | undefined;

  const renderList = (rows: NoteRow[]) => {
    list.replaceChildren(
      ...rows.map((row) =>
        h(
          'li',
          {},
          h(
            'button',
            {
              type: 'button',
              class: `note-link${row.key === selected ? ' selected' : ''}${row.conflict ? ' has-conflict' : ''}`,
              'data-key': row.key,
              onclick: () => void select(row.key),
            },
            h('span', { class: 'note-title' }, row.title),
            row.conflict ? h('span', { class: 'badge badge-conflict' }, 'conflict') : null,
          ),
        ),
      ),
    );
    // One empty state for the panel: the detail pane says there are no notes (or asks to pick one).
    const had = noteCount;
    noteCount = rows.length;
    if (!selected && (had === 0) !== (noteCount === 0)) renderPlaceholder();
  };

  const renderPlaceholder = () =>
    detail.replaceChildren(h('p', { class: 'empty' }, noteCount === 0 ? 'No notes yet: make one with “New note”.' : 'Pick a note to read or edit it.'));

  // Scans and reads overlap when changes arrive in a burst: only the latest one started renders.
  let listRun = 0;
  const refreshList = async () => {
    const run = ++listRun;
    const rows: NoteRow[] = [];
    for await (const e of app.space.scan<string>(NOTE_PREFIX)) rows.push({ key: e.key, title: titleOf(shown(e.value)), conflict: e.conflict });
    if (run === listRun) renderList(rows);
  };

  const versionCard = (v: VersionInfo, i: number, read: GetResult<string>, key: string) =>
    h(
      'li',
      { class: `version${v.deleted ? ' deleted' : ''}`, 'data-version': String(i) },
      h(
        'div',
        { class: 'version-meta' },
        h('span', { class: 'who', title: v.replicaId }, names(v.replicaId) ?? 'replica', ' ', h('code', {}, short(v.replicaId))),
        h('span', { class: 'when', title: `HLC ${v.hlc.ms}.${v.hlc.logical}` }, clock(v.hlc.ms)),
        h('code', { class: 'dot', title: `dot (replica·counter) of ${v.replicaId}` }, formatDot(v.replicaId, v.counter)),
      ),
      v.deleted ? h('p', { class: 'tombstone' }, 'deleted') : h('pre', { class: 'version-text' }, shown(v.value ?? '')),
      v.deleted
        ? h('button', { type: 'button', class: 'button keep keep-deletion', onclick: () => void keepDeletion(key, read) }, 'Keep the deletion')
        : h('button', { type: 'button', class: 'button keep', onclick: () => void resolve(key, read, shown(v.value ?? ''), 'keep a version') }, 'Keep this version'),
    );

  const renderConflict = (key: string, read: GetResult<string>) => {
    const texts = read.siblings.map(shown);
    const combo = h('textarea', { class: 'note-text', id: 'note-combination', rows: 5, 'aria-label': 'Combination' }) as HTMLTextAreaElement;
    combo.value = mergeLines(texts);
    detail.replaceChildren(
      h(
        'div',
        { class: 'conflict', id: 'note-conflict' },
        h('h3', {}, `${read.versions.length} versions written concurrently${read.versions.some((v) => v.deleted) ? ', one a deletion' : ''}`),
        h('p', { class: 'hint' }, 'Neither device saw the other’s change. Whatever you keep or save now is written with the read context below, so it replaces exactly these versions.'),
        h('p', { class: 'context' }, 'read context ', h('code', { id: 'note-context', title: read.context }, formatContext(read.context))),
        h('ol', { class: 'versions' }, ...read.versions.map((v, i) => versionCard(v, i, read, key))),
        h('label', { class: 'combo-label', for: 'note-combination' }, 'Or save a combination (prefilled with every line of every version):'),
        combo,
        h(
          'div',
          { class: 'row' },
          h('button', { type: 'button', class: 'button', id: 'note-merge', onclick: () => (combo.value = mergeLines(texts)) }, 'Merge lines'),
          h('button', { type: 'button', class: 'button primary', id: 'note-save-combination', onclick: () => void resolve(key, read, combo.value, 'save combination') }, 'Save combination'),
        ),
      ),
    );
  };

  const renderEditor = (key: string, read: GetResult<string>) => {
    const area = h('textarea', { class: 'note-text', id: 'note-text', rows: 8, 'aria-label': 'Note text' }) as HTMLTextAreaElement;
    area.value = shown(read.value);
    const status = h('span', { class: 'hint', id: 'note-status' }, '');
    editing = { key, read, dirty: false };
    area.addEventListener('input', () => {
      if (editing) editing.dirty = true;
      status.textContent = 'unsaved';
    });
    const v = read.versions[0];
    detail.replaceChildren(
      h('div', { class: 'editor' }, area),
      h(
        'div',
        { class: 'row' },
        h('button', { type: 'button', class: 'button primary', id: 'note-save', onclick: () => void save(key, area.value) }, 'Save'),
        h('button', { type: 'button', class: 'button subtle', id: 'note-delete', onclick: () => void remove(key) }, 'Delete'),
        status,
      ),
      v
        ? h(
            'p',
            { class: 'meta', id: 'note-meta' },
            'written by ',
            h('span', { title: v.replicaId }, names(v.replicaId) ?? 'replica', ' ', h('code', {}, short(v.replicaId))),
            ' at ',
            h('span', { title: `HLC ${v.hlc.ms}.${v.hlc.logical}` }, clock(v.hlc.ms)),
            ' · dot ',
            h('code', { class: 'dot', title: `dot (replica·counter) of ${v.replicaId}` }, formatDot(v.replicaId, v.counter)),
            ' · context ',
            h('code', { class: 'context', title: read.context }, formatContext(read.context)),
          )
        : '',
    );
  };

  let detailRun = 0;
  const renderDetail = async (): Promise<void> => {
    if (!selected) {
      editing = undefined;
      renderPlaceholder();
      return;
    }
    const key = selected;
    const run = ++detailRun;
    const read = await app.space.get<string>(key);
    if (key !== selected || run !== detailRun) return;
    if (!read) {
      selected = undefined;
      return renderDetail();
    }
    if (read.conflict) {
      editing = undefined;
      renderConflict(key, read);
    } else if (!(editing?.key === key && editing.dirty)) {
      renderEditor(key, read);
    } else {
      const status = document.getElementById('note-status');
      if (status) status.textContent = 'changed on another device; saving keeps both versions';
    }
  };

  const select = async (key: string) => {
    selected = key;
    editing = undefined;
    await Promise.all([refreshList(), renderDetail()]);
  };

  // Every write here carries the context of the read it was based on.
  const save = async (key: string, value: string) => {
    const read = editing?.key === key ? editing.read : await app.space.get<string>(key);
    app.wrote('edit note', await app.space.put(key, value, read ? { context: read.context } : undefined));
    editing = undefined;
    await Promise.all([refreshList(), renderDetail()]);
  };

  const resolve = async (key: string, read: GetResult<string>, value: string, what: string) => {
    app.wrote(what, await app.space.put(key, value, { context: read.context }));
    editing = undefined;
    await Promise.all([refreshList(), renderDetail()]);
  };

  /** An edit concurrent with a delete, resolved as deleted: a delete with the read's context supersedes both. */
  const keepDeletion = async (key: string, read: GetResult<string>) => {
    app.wrote('keep the deletion', await app.space.delete(key, { context: read.context }));
    editing = undefined;
    selected = undefined;
    await Promise.all([refreshList(), renderDetail()]);
  };

  const remove = async (key: string) => {
    const read = editing?.key === key ? editing.read : await app.space.get<string>(key);
    app.wrote('delete note', await app.space.delete(key, read ? { context: read.context } : undefined));
    selected = undefined;
    await Promise.all([refreshList(), renderDetail()]);
  };

  newButton.addEventListener('click', () => {
    void (async () => {
      const key = `${NOTE_PREFIX}${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`;
      app.wrote('new note', await app.space.put(key, 'New note\n'));
      await select(key);
      document.getElementById('note-text')?.focus();
    })();
  });

  app.space.subscribe(`${NOTE_PREFIX}*`, (change) => {
    void refreshList();
    if (change.key === selected) void renderDetail();
  });
  void refreshList();
  void renderDetail();
  return () => {
    if (!editing?.dirty) void renderDetail();
  };
}
