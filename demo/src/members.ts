/**
 * The members list of the network panel (presence). Presence is only news while this window is connected:
 * `presence.list()` keeps what it last heard until the entries expire (15 s), so a window that is offline (or
 * still connecting) would show people as online who may have left. While this window is not connected, the
 * others are shown as "last seen" at the moment it lost the connection (or "not seen" if it never saw them
 * connected), never as online; only this window itself shows as here.
 */
import type { PresenceMember, ReplicaStatus } from '../../lib/index.js';
import type { App } from './app.js';
import { byId, clock, h } from './dom.js';
import { short } from './notation.js';

const connected = (s: ReplicaStatus) => s === 'synced' || s === 'syncing';

const nameIn = (m: PresenceMember): string | undefined => {
  const name = (m.meta as { name?: unknown } | null)?.name;
  return typeof name === 'string' ? name : undefined;
};

export interface Members {
  /** The device name a replicaId announced through presence, if it was seen this session. */
  nameOf(replicaId: string): string | undefined;
}

/** Mounts the members list; `onNames` is called when a replica's announced name becomes known or changes. */
export function mountMembers(app: App, onNames: () => void): Members {
  const list = byId<HTMLUListElement>('members');
  const heading = byId('members-h');
  const names = new Map<string, string>();
  /** The others as last heard while connected (by presence id: every tab is its own member). */
  const seen = new Map<string, PresenceMember>();
  /** When this window last stopped being connected (undefined: connected now, or never was). */
  let lostAt: number | undefined;
  let wasConnected = false;

  const learnNames = (members: PresenceMember[]) => {
    for (const m of members) {
      const name = nameIn(m);
      if (name !== undefined && names.get(m.replicaId) !== name) {
        names.set(m.replicaId, name);
        onNames();
      }
    }
  };

  const row = (m: PresenceMember, presence: 'here' | 'online' | 'last-seen' | 'unknown') => {
    // This device's other tabs share its replicaId.
    const sameDevice = !m.self && m.replicaId === app.replica.replicaId;
    const note =
      presence === 'last-seen' ? `last seen ${clock(lostAt!)}` : presence === 'unknown' ? 'not seen online' : undefined;
    return h(
      'li',
      { class: `member${m.self ? ' self' : ''}${sameDevice ? ' same-device' : ''}`, 'data-presence': presence },
      h('span', { class: 'presence-dot', title: presence === 'here' || presence === 'online' ? 'online' : 'unknown' }),
      h('span', {}, nameIn(m) ?? 'unnamed'),
      h('code', { title: m.replicaId }, short(m.replicaId)),
      m.self ? h('span', { class: 'badge' }, 'this window') : sameDevice ? h('span', { class: 'badge' }, 'another tab') : null,
      note ? h('span', { class: 'seen' }, note) : null,
    );
  };

  const order = (a: PresenceMember, b: PresenceMember) =>
    Number(b.self) - Number(a.self) || (nameIn(a) ?? '').localeCompare(nameIn(b) ?? '') || a.id.localeCompare(b.id);

  const render = () => {
    const current = app.space.presence.list();
    learnNames(current);
    const isConnected = connected(app.replica.status);
    if (isConnected) {
      // What presence says now is news: remember it, forget who left while we watched.
      seen.clear();
      for (const m of current) if (!m.self) seen.set(m.id, m);
      lostAt = undefined;
    } else if (wasConnected) {
      lostAt = Date.now();
    }
    wasConnected = isConnected;
    heading.textContent = isConnected ? 'Members online' : 'Members (this window is not connected)';
    const self = current.filter((m) => m.self);
    if (isConnected) {
      list.replaceChildren(...[...self, ...current.filter((m) => !m.self).sort(order)].map((m) => row(m, m.self ? 'here' : 'online')));
      return;
    }
    // Not connected: the others as last heard while connected, and anyone heard of since as unknown.
    const others = new Map(seen);
    for (const m of current) if (!m.self && !others.has(m.id)) others.set(m.id, m);
    list.replaceChildren(
      ...self.map((m) => row(m, 'here')),
      ...[...others.values()].sort(order).map((m) => row(m, seen.has(m.id) && lostAt !== undefined ? 'last-seen' : 'unknown')),
    );
  };

  app.space.presence.set({ name: app.device.name });
  app.space.presence.subscribe(render);
  app.replica.on('status', render);
  render();

  return {
    nameOf: (replicaId) => (replicaId === app.replica.replicaId ? app.device.name : names.get(replicaId)),
  };
}
