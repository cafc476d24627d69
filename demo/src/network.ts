/**
 * The network panel: this window's online switch (closes the link / connects again), the replica's
 * status, per-write durability, members (presence, members.ts), relays known, and the last sync activity.
 * Every tab connects; the library lets one tab of the device hold the socket for all of them.
 */
import type { Link, ReplicaStatus } from '../../lib/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import type { App } from './app.js';
import { byId, clock, h } from './dom.js';
import { mountMembers } from './members.js';

const STATUS_TEXT: Record<ReplicaStatus, string> = {
  offline: 'Offline',
  connecting: 'Connecting…',
  syncing: 'Syncing…',
  synced: 'Synced',
};

/** Reconnect quickly in a demo (the library's default backoff grows to 10 s). */
const BACKOFF = { base: 200, max: 2000 };

export interface Network {
  /** The device name a replicaId announced through presence, if it is online now or was this session. */
  nameOf(replicaId: string): string | undefined;
  /**
   * Turns this window's switch on (connects) or off (closes its link), and remembers it for this tab. Every tab
   * connects: the tabs of a device share one replica in IndexedDB, and the library has one of them hold the
   * only socket for all (README, "Every tab"); each tab still shows its own status, acknowledgements and presence.
   */
  setOnline(on: boolean): void;
}

export function mountNetwork(app: App, onlineKey: string, onNames: () => void): Network {
  const toggle = byId<HTMLInputElement>('online');
  const statusEls = [byId('status'), byId('status-panel')];
  const writes = byId<HTMLUListElement>('writes');
  const relays = byId<HTMLUListElement>('relays');
  const activity = byId('activity');
  const received = byId('received');
  let link: Link | undefined;
  let lastRemote: { key: string; at: number } | undefined;
  let lastSynced: number | undefined;

  const renderStatus = () => {
    const s = app.replica.status;
    for (const el of statusEls) {
      el.textContent = STATUS_TEXT[s];
      el.dataset.status = s;
    }
    document.body.dataset.status = s;
    renderActivity();
  };

  const renderActivity = () => {
    activity.textContent = lastSynced ? clock(lastSynced) : 'not yet, this session';
    received.replaceChildren(...(lastRemote ? [h('code', {}, lastRemote.key), ` at ${clock(lastRemote.at)}`] : ['nothing yet']));
    renderRelays();
  };

  /** The configured relay and what this window knows of it (the cluster work may add relays learned by gossip). */
  const renderRelays = () => {
    const s = app.replica.status;
    const state = !link ? 'not connected (offline)' : s === 'connecting' ? 'unreachable, retrying' : s === 'offline' ? 'not connected' : 'connected';
    relays.replaceChildren(
      h('li', {}, h('code', {}, app.relayUrl), h('span', { class: 'hint' }, ` configured · ${state}`)),
    );
  };

  const renderWrites = () => {
    const rows = app.journal.entries.map((e) =>
      h(
        'li',
        { class: 'write', 'data-durability': e.durability },
        h('span', { class: 'write-what', title: e.key }, e.what),
        e.dot ? h('code', { class: 'write-dot', title: 'the dot (replica·counter) this write minted' }, e.dot) : h('span'),
        h('span', { class: 'write-when' }, clock(e.at)),
        h('span', { class: `badge badge-${e.durability}` }, e.durability === 'local' ? 'local only' : 'synced'),
      ),
    );
    writes.replaceChildren(...(rows.length ? rows : [h('li', { class: 'empty' }, 'No writes from this window yet.')]));
  };

  /** Keys holding a write no relay has acknowledged yet, from the replica (its log): right after a reload, in every tab. */
  const pending = byId('pending');
  const pendingUnit = byId('pending-unit');
  const renderPending = () => {
    const n = app.replica.pending;
    pending.textContent = String(n);
    pendingUnit.textContent = n === 1 ? 'key with local writes' : 'keys with local writes';
  };

  const setOnline = (on: boolean) => {
    toggle.checked = on;
    sessionStorage.setItem(onlineKey, on ? '1' : '0');
    document.body.dataset.online = on ? 'on' : 'off';
    if (on && !link) link = app.replica.connect(webSocketTransport(app.relayUrl), { backoff: BACKOFF });
    if (!on && link) {
      link.close();
      link = undefined;
    }
    renderStatus();
  };

  toggle.addEventListener('change', () => setOnline(toggle.checked));
  app.replica.on('status', (s) => {
    if (s === 'synced') lastSynced = Date.now();
    renderStatus();
  });
  app.space.subscribe('*', (change) => {
    if (change.origin !== 'remote') return;
    lastRemote = { key: change.key, at: Date.now() };
    renderActivity();
  });
  app.journal.onChange(renderWrites);
  app.replica.on('pending', renderPending);
  // The last Merkle anti-entropy run (on a reconnect without a valid cursor, and periodically).
  const antiEntropy = byId('anti-entropy');
  app.replica.on('antiEntropy', (run) => {
    const kb = run.bytes < 1024 ? `${run.bytes} B` : `${(run.bytes / 1024).toFixed(1)} KB`;
    antiEntropy.textContent = `${clock(Date.now())}: ${run.turns} turns, ${kb}, ${run.keysRepaired} keys repaired${run.onConnect ? ' (on connect)' : ''}`;
  });

  const members = mountMembers(app, onNames);
  renderWrites();
  renderPending();

  return {
    nameOf: members.nameOf,
    setOnline,
  };
}
