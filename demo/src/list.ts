/**
 * The shared shopping list: one key holding an add-wins set (`merges.addWins`, a typed value: merged on every
 * replica without registering a merge). Items added on devices
 * that were offline at the same time all survive the merge; a removal removes what it saw, and an add
 * concurrent with it wins (Dynamo's shopping cart, without resurrecting deleted items).
 */
import { merges } from '../../lib/index.js';
import type { AddWinsSet } from '../../lib/merges/index.js';
import { LIST_KEY, type App } from './app.js';
import { byId, h } from './dom.js';

const { addWins } = merges;

export function mountList(app: App): void {
  const form = byId<HTMLFormElement>('list-form');
  const input = byId<HTMLInputElement>('list-input');
  const ul = byId<HTMLUListElement>('list-items');
  const count = byId('list-count');

  const render = (set: AddWinsSet<string> | undefined) => {
    const items = addWins.values<string>(set);
    // Empty, the list says so once (below), not also as "0 items".
    count.textContent = items.length === 1 ? '1 item' : `${items.length} items`;
    count.hidden = items.length === 0;
    ul.replaceChildren(
      ...items.map((item) =>
        h(
          'li',
          { class: 'list-item', 'data-item': item },
          h('span', { class: 'item-text' }, item),
          h('button', { class: 'icon-button', type: 'button', title: `Remove ${item}`, 'aria-label': `Remove ${item}`, onclick: () => void remove(item) }, '×'),
        ),
      ),
    );
    if (items.length === 0) ul.append(h('li', { class: 'empty' }, 'Nothing yet. Add something, even offline.'));
  };

  const refresh = async () => render((await app.space.get<AddWinsSet<string>>(LIST_KEY))?.value);

  const remove = async (item: string) => {
    app.wrote(`remove “${item}”`, await app.space.update<AddWinsSet<string>>(LIST_KEY, (s) => addWins.remove(s, item)));
    await refresh();
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const item = input.value.trim();
    if (!item) return;
    input.value = '';
    void (async () => {
      app.wrote(`add “${item}”`, await app.space.update<AddWinsSet<string>>(LIST_KEY, (s) => addWins.add(s, app.replica.replicaId, item)));
      await refresh();
    })();
  });

  app.space.subscribe(LIST_KEY, () => void refresh());
  void refresh();
}
