/**
 * The shared shopping list: one key holding an add-wins set (`merges.addWins`, a typed value: merged on every
 * replica without registering a merge). Items added on devices
 * that were offline at the same time all survive the merge; a removal removes what it saw, and an add
 * concurrent with it wins (Dynamo's shopping cart, without resurrecting deleted items).
 */
import { merges, type GetResult } from '../../lib/index.js';
import { addWinsType, type AddWinsSet } from '../../lib/merges/add-wins.js';
import { LIST_KEY, type App } from './app.js';
import { byId, h, shown } from './dom.js';

const { addWins } = merges;

/** A value as an add-wins set, checked as a replica checks one it receives (the type's own decoder), else undefined. */
function asSet(v: unknown): AddWinsSet | undefined {
  try {
    return addWinsType.decode(addWinsType.encode(v as AddWinsSet as never));
  } catch {
    return undefined;
  }
}

interface ListRead {
  /** The join of every live version that is a set (undefined: none). */
  readonly set: AddWinsSet | undefined;
  /** Some live version is not a set (a peer wrote another type, or entries of another shape): left out, and superseded by the next write. */
  readonly unreadable: boolean;
}

/**
 * What the list key holds, read defensively: a peer can write anything there. Each live version is checked on its
 * own, and only the sets are joined. Neither `get`'s value nor its siblings will do: the set helpers throw on what is
 * not a set (which stopped the panel and every add), and the merge takes a plain `{ e, cc }` of any shape, so its
 * join can hold an entry no replica's decoder accepts — a write built on it would be refused everywhere, and
 * dropping the join as a whole would drop the real sets in it.
 */
export function readList(read: GetResult<unknown> | undefined): ListRead {
  const live = (read?.versions ?? []).filter((v) => !v.deleted);
  const sets: AddWinsSet[] = [];
  for (const v of live) {
    const s = asSet(v.value);
    if (s) sets.push(s);
  }
  const set = sets.length > 1 ? addWins(sets, { key: LIST_KEY, space: '', versions: [] }) : sets[0];
  return { set, unreadable: sets.length < live.length };
}

export function mountList(app: App): void {
  const form = byId<HTMLFormElement>('list-form');
  const input = byId<HTMLInputElement>('list-input');
  const ul = byId<HTMLUListElement>('list-items');
  const count = byId('list-count');

  const render = ({ set, unreadable }: ListRead) => {
    const items = addWins.values<unknown>(set);
    // Empty, the list says so once (below), not also as "0 items".
    count.textContent = items.length === 1 ? '1 item' : `${items.length} items`;
    count.hidden = items.length === 0;
    ul.replaceChildren(
      ...items.map((item) =>
        h(
          'li',
          { class: 'list-item', 'data-item': item },
          h('span', { class: 'item-text' }, item),
          h('button', { class: 'icon-button', type: 'button', title: `Remove ${shown(item)}`, 'aria-label': `Remove ${shown(item)}`, onclick: () => void remove(item) }, '×'),
        ),
      ),
    );
    if (unreadable) ul.append(h('li', { class: 'empty unreadable' }, 'A device wrote something here that is not a list; it is left out, and the next change replaces it.'));
    else if (items.length === 0) ul.append(h('li', { class: 'empty' }, 'Nothing yet. Add something, even offline.'));
  };

  const refresh = async () => render(readList(await app.space.get(LIST_KEY)));
  /** Writes the list with `change` applied to what it holds (the sets in it; a value that is not one is superseded). */
  const write = (change: (set: AddWinsSet | undefined) => AddWinsSet) =>
    app.space.update<AddWinsSet>(LIST_KEY, (_, read) => change(readList(read).set));

  const remove = async (item: unknown) => {
    app.wrote(`remove “${shown(item)}”`, await write((s) => addWins.remove(s, item)));
    await refresh();
  };

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const item = input.value.trim();
    if (!item) return;
    input.value = '';
    void (async () => {
      app.wrote(`add “${item}”`, await write((s) => addWins.add(s, app.replica.replicaId, item)));
      await refresh();
    })();
  });

  app.space.subscribe(LIST_KEY, () => void refresh());
  void refresh();
}
