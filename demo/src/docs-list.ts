/**
 * The list of documents: each document `<id>` has a title key `doc-titles/<id>` (a plain value, last writer wins)
 * beside its content key `docs/<id>`. Creating one writes its title; renaming rewrites it; every device sees the
 * list change through `subscribe`. The first document, `main`, exists on every device without being created.
 */
import { randomId } from '../../lib/ids.js';
import { TITLE_PREFIX, type App } from './app.js';
import type { DocEditor } from './doc.js';
import { byId, h } from './dom.js';

export const MAIN_DOC = 'main';
const MAIN_TITLE = 'Shared document';

interface Title {
  title: string;
}

export function mountDocsList(app: App, editor: DocEditor): void {
  const list = byId<HTMLUListElement>('docs-list');
  const count = byId('docs-count');
  const title = byId<HTMLInputElement>('doc-title');
  const titles = new Map<string, string>([[MAIN_DOC, MAIN_TITLE]]);

  const render = () => {
    const ids = [...titles.keys()].sort((a, b) => (a === MAIN_DOC ? -1 : b === MAIN_DOC ? 1 : titles.get(a)!.localeCompare(titles.get(b)!) || a.localeCompare(b)));
    count.textContent = `${ids.length} ${ids.length === 1 ? 'document' : 'documents'}, one connection`;
    list.replaceChildren(
      ...ids.map((id) =>
        h(
          'li',
          { class: 'doc-item' + (chosen === id ? ' open' : ''), 'data-doc': id },
          h('button', { type: 'button', class: 'doc-link', onclick: () => void openDoc(id) }, titles.get(id) ?? id),
        ),
      ),
    );
    if (document.activeElement !== title) title.value = titles.get(chosen) ?? '';
  };

  // The document chosen last, set at once on a click: the title field renames it even while its content is still
  // loading (a title typed right after "New" names the new document, not the one open before it).
  let chosen = MAIN_DOC;

  const openDoc = async (id: string) => {
    chosen = id;
    render();
    await editor.open(id);
    render();
  };

  const load = async () => {
    for await (const e of app.space.scan<Title>(TITLE_PREFIX)) {
      const t = e.value?.title;
      if (typeof t === 'string') titles.set(e.key.slice(TITLE_PREFIX.length), t);
    }
    render();
  };

  byId('doc-new').addEventListener('click', () => {
    void (async () => {
      const id = randomId(8);
      const name = `Untitled ${titles.size}`;
      titles.set(id, name);
      const created = app.space.put<Title>(TITLE_PREFIX + id, { title: name });
      // Ready to be renamed at once: what is typed from here on is kept (render leaves a focused field alone).
      chosen = id;
      title.value = name;
      title.focus();
      title.select();
      render();
      app.wrote(`create “${name}”`, await created);
      if (chosen === id) await openDoc(id); // unless another document was chosen meanwhile
    })();
  });

  byId<HTMLFormElement>('doc-rename').addEventListener('submit', (e) => {
    e.preventDefault();
    const id = chosen;
    const next = title.value.trim();
    if (!id || !next) return;
    titles.set(id, next);
    render();
    void app.space.put<Title>(TITLE_PREFIX + id, { title: next }).then((w) => app.wrote(`rename to “${next}”`, w));
    title.blur();
  });

  app.space.subscribe<Title>(TITLE_PREFIX + '*', (c) => {
    const id = c.key.slice(TITLE_PREFIX.length);
    if (c.deleted) titles.delete(id);
    else if (typeof c.value?.title === 'string') titles.set(id, c.value.title);
    render();
  });
  void load().then(() => openDoc(MAIN_DOC));
}
