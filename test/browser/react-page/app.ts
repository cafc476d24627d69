// A tiny React app on concord/react, for test/browser/react.test.ts: one replica in the page (memory storage)
// syncing through a relay on loopback, rendered under StrictMode with the development build of React (so
// StrictMode's double render and double effects run, and React reports unstable snapshots). Every component
// counts its renders in `app.renders`.
import { createElement as h, StrictMode, type ReactNode } from 'react';
import { createRoot, type Root } from 'react-dom/client';
import { webSocketTransport } from '../../../adapters/ws/index.js';
import { usePending, usePresence, useScan, useStatus, useValue } from '../../../adapters/react/index.js';
import { memoryStorage, openReplica, type Link, type Replica, type Space, type TypedSpace } from '../../../lib/index.js';

type Schema = { 'todo/*': string; a: number; b: number; c: number };

const renders: Record<string, number> = {};
const count = (name: string) => void (renders[name] = (renders[name] ?? 0) + 1);

function Value({ space, k }: { space: TypedSpace<Schema>; k: 'a' | 'b' }): ReactNode {
  count(`value:${k}`);
  const { value, loading } = useValue(space, k);
  const n: number | undefined = value; // typed by the schema
  return h('output', { id: `value-${k}`, 'data-loading': String(loading) }, loading ? '…' : String(n ?? 'none'));
}

function Todos({ space }: { space: TypedSpace<Schema> }): ReactNode {
  count('scan');
  const { entries } = useScan(space, 'todo/');
  return h('ul', { id: 'todos' }, entries.map((e) => h('li', { key: e.key, 'data-key': e.key }, String(e.value))));
}

function Status({ replica }: { replica: Replica }): ReactNode {
  count('status');
  return h('output', { id: 'status' }, useStatus(replica));
}

function Pending({ replica }: { replica: Replica }): ReactNode {
  count('pending');
  return h('output', { id: 'pending' }, String(usePending(replica)));
}

function Members({ space }: { space: Space }): ReactNode {
  count('presence');
  const members = usePresence(space);
  return h('output', { id: 'members' }, members.map((m) => (m.meta as { name?: string } | null)?.name ?? '?').join(','));
}

/** What each render of `Seen` showed (`loading` or the value): a component mounted and unmounted at will. */
const seen: string[] = [];

function Seen({ space }: { space: TypedSpace<Schema> }): ReactNode {
  const { value, loading } = useValue(space, 'c');
  seen.push(loading ? 'loading' : String(value));
  return h('output', { id: 'seen' }, loading ? '…' : String(value));
}

async function start(url: string): Promise<string> {
  const replica = await openReplica({ storage: memoryStorage() });
  const space = replica.space<Schema>('room');
  let link: Link | undefined = replica.connect(webSocketTransport(url));
  space.presence.set({ name: 'page' });
  const root = document.createElement('div');
  document.body.append(root);
  createRoot(root).render(
    h(StrictMode, null, h(Status, { replica }), h(Pending, { replica }), h(Value, { space, k: 'a' }), h(Value, { space, k: 'b' }), h(Todos, { space }), h(Members, { space: space as unknown as Space })),
  );
  let extra: Root | undefined;
  Object.assign(app, {
    put: (k: 'a' | 'b', v: number) => space.put(k, v).then(() => undefined),
    get: (k: 'a' | 'b' | 'c') => space.get(k).then((r) => r?.value),
    mountSeen: (on: boolean) => {
      extra?.unmount();
      extra = undefined;
      if (!on) return;
      const el = document.createElement('div');
      document.body.append(el);
      extra = createRoot(el);
      extra.render(h(StrictMode, null, h(Seen, { space })));
    },
    online: (on: boolean) => {
      if (!on) link?.close();
      link = on ? (link?.isActive ? link : replica.connect(webSocketTransport(url))) : undefined;
    },
  });
  return replica.replicaId;
}

export interface ReactApp {
  renders: Record<string, number>;
  seen: string[];
  get(key: 'a' | 'b' | 'c'): Promise<number | undefined>;
  /** Mounts `Seen` (reading key c) in a root of its own, or unmounts it. */
  mountSeen(on: boolean): void;
  start(url: string): Promise<string>;
  put(key: 'a' | 'b', value: number): Promise<void>;
  /** Closes the page's link (false) or connects again (true). */
  online(on: boolean): void;
}

const app: ReactApp = {
  renders,
  seen,
  start,
  put: () => Promise.reject(new Error('not started')),
  get: () => Promise.reject(new Error('not started')),
  online: () => {},
  mountSeen: () => {},
};
(globalThis as { app?: ReactApp }).app = app;
