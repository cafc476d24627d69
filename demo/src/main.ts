/**
 * The Concord demo: a shopping list (add-wins set), notes whose concurrent edits show as siblings, shared
 * documents edited in CodeMirror (Yjs documents as values, concord/yjs, with the others' cursors), and a network
 * panel, all on one replica per device stored in IndexedDB and synced through the relay that serves this page.
 */
import { indexedDBStorage } from '../../adapters/indexeddb/index.js';
import { merges, openReplica } from '../../lib/index.js';
import { LIST_KEY, SPACE, TITLE_PREFIX, WriteJournal, type App } from './app.js';
import { chooseDevice } from './device.js';
import { mountDoc } from './doc.js';
import { mountDocsList } from './docs-list.js';
import { byId, h } from './dom.js';
import { mountList } from './list.js';
import { mountNetwork } from './network.js';
import { dotOfWrite } from './notation.js';
import { mountNotes } from './notes.js';
import { relayUrl } from './relay-url.js';

const DEVICE_KEY = 'concord-demo-device';


async function start(): Promise<void> {
  const device = chooseDevice(location.search, localStorage.getItem(DEVICE_KEY));
  if (!device.explicit) localStorage.setItem(DEVICE_KEY, device.name);
  document.title = `${device.name} · Concord demo`;

  const storage = indexedDBStorage(device.dbName);
  // The list is an add-wins set and documents are Yjs documents: typed values, merged without registration (the
  // list's merge stays registered for lists stored as plain objects by older versions). Titles: the latest rename wins.
  const replica = await openReplica({ storage, merge: { [LIST_KEY]: merges.addWins, [TITLE_PREFIX + '*']: merges.lww } });
  replica.on('error', (e) => console.error('concord:', e));
  const relay = relayUrl(location);
  if (relay.refused !== undefined) console.warn(`demo: ?relay=${relay.refused} ignored: only a relay on this page's own host (${location.hostname}) is used`);
  const journal = new WriteJournal();
  const app: App = {
    device,
    replica,
    space: replica.space(SPACE),
    relayUrl: relay.url,
    journal,
    wrote: (what, w) => (journal.track(what, w, dotOfWrite(w, replica.replicaId)), w),
  };

  byId('device-name').textContent = device.name;
  byId('replica-id').textContent = replica.replicaId;
  byId('replica-id').title = `replicaId of device ${device.name} (IndexedDB ${device.dbName})`;
  const other = byId<HTMLAnchorElement>('open-device');
  other.href = `?device=${device.name === 'bob' ? 'alice' : 'bob'}`;

  let renderNames = () => {};
  const network = mountNetwork(app, `concord-demo-online-${device.name}`, () => renderNames());
  mountList(app);
  const editor = mountDoc(app);
  mountDocsList(app, editor);
  (window as unknown as { concordDemo: unknown }).concordDemo = { replica, space: app.space, editor };
  renderNames = mountNotes(app, network.nameOf);

  // Every tab connects (the library gives one of them the socket); a tab leaves presence as it unloads by itself.
  network.setOnline(sessionStorage.getItem(`concord-demo-online-${device.name}`) !== '0');

  document.body.dataset.ready = 'true';
}

// The app shell is cached by a service worker, so a reload works while the relay is down.
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/sw.js').catch((e: unknown) => console.warn('service worker:', e));
}

start().catch((e: unknown) => {
  console.error(e);
  document.body.dataset.ready = 'failed';
  byId('fatal').replaceChildren(h('strong', {}, 'The demo could not start: '), String(e instanceof Error ? e.message : e));
  byId('fatal').hidden = false;
});
