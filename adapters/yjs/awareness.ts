/**
 * Awareness over presence: an editor's cursors and selections (Yjs's awareness states, as y-codemirror.next and
 * y-prosemirror read them) carried by `space.presence`, the space's gossip of who is online.
 *
 *   local state  → presence meta `{ …the app's own fields, yjs: { [docKey]: { c: clientID, s: state } } }`
 *                  (set through `space.presence.set`, at most every `throttle` ms);
 *   members      → for every other member's entry of this key, the remote client's state in the Awareness
 *                  instance, with 'change' and 'update' events as y-protocols emits them; a member who leaves or
 *                  expires (presence ttl) is removed; one the Awareness dropped itself (its 30 s outdated check) while
 *                  presence still lists it is set again.
 *
 * Works with y-protocols' `Awareness` without importing it (only its documented fields and events are used), so
 * `concord/yjs` needs no y-protocols. Remote entries are validated (a client id and an object state, ≤ the presence
 * size limit); presence entries belong to their sender (the relay enforces it), so one member cannot set another's.
 */
import type { Space } from '../../lib/space.js';

type State = Record<string, unknown>;

/** What this binding uses of y-protocols' Awareness. */
export interface AwarenessLike {
  readonly clientID: number;
  readonly states: Map<number, State>;
  readonly meta: Map<number, { clock: number; lastUpdated: number }>;
  getLocalState(): State | null;
  on(event: 'change', cb: (changes: AwarenessChanges, origin: unknown) => void): void;
  off(event: 'change', cb: (changes: AwarenessChanges, origin: unknown) => void): void;
  emit(event: 'change' | 'update', args: unknown[]): void;
}

export interface AwarenessChanges {
  added: number[];
  updated: number[];
  removed: number[];
}

export interface BindAwarenessOptions {
  /** Least milliseconds between two presence updates from local changes (default 30). */
  throttle?: number;
}

const ORIGIN = 'concord-presence';
/** y-protocols drops remote states not renewed for 30 s; presence already tracks liveness, so renew well before. */
const RENEW_MS = 10_000;

function isObject(x: unknown): x is Record<string, unknown> {
  return x !== null && typeof x === 'object' && !Array.isArray(x);
}

/** Binds an Awareness instance to a document key's presence in a space. Returns unbind. */
export function bindAwareness(space: Space, key: string, awareness: AwarenessLike, options: BindAwarenessOptions = {}): () => void {
  const throttle = options.throttle ?? 30;
  const known = new Map<number, string>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let lastSent = 0;
  let bound = true;

  const ownMeta = (): Record<string, unknown> => {
    const self = space.presence.list().find((m) => m.self)?.meta;
    return isObject(self) ? self : {};
  };

  const publish = () => {
    timer = undefined;
    if (!bound) return;
    lastSent = Date.now();
    const meta = ownMeta();
    const docs = isObject(meta.yjs) ? { ...meta.yjs } : {};
    const state = awareness.getLocalState();
    if (state === null) delete docs[key];
    else docs[key] = { c: awareness.clientID, s: state };
    space.presence.set({ ...meta, yjs: docs });
  };

  let recheck = false;
  const onLocal = (changes: AwarenessChanges, origin: unknown) => {
    if (origin === ORIGIN) return;
    // A remote state dropped by someone else — the Awareness's own outdated check (30 s without a renewal: a sleep,
    // a throttled background tab) or the app: presence decides who is here, so a member it still lists comes back,
    // after the removal's own events.
    if (changes.removed.some((c) => known.has(c))) {
      for (const c of changes.removed) known.delete(c);
      if (!recheck) {
        recheck = true;
        queueMicrotask(() => {
          recheck = false;
          onMembers(space.presence.list());
        });
      }
    }
    const self = awareness.clientID;
    if (!changes.added.includes(self) && !changes.updated.includes(self) && !changes.removed.includes(self)) return;
    if (timer !== undefined) return;
    timer = setTimeout(publish, Math.max(0, lastSent + throttle - Date.now()));
  };

  const onMembers = (members: ReturnType<Space['presence']['list']>) => {
    if (!bound) return;
    const now = Date.now();
    const changes: AwarenessChanges = { added: [], updated: [], removed: [] };
    const present = new Set<number>();
    for (const m of members) {
      if (m.self || !isObject(m.meta) || !isObject(m.meta.yjs)) continue;
      const entry = m.meta.yjs[key];
      if (!isObject(entry) || !Number.isSafeInteger(entry.c) || !isObject(entry.s)) continue;
      const client = entry.c as number;
      if (client === awareness.clientID) continue;
      present.add(client);
      const text = JSON.stringify(entry.s);
      if (known.get(client) === text) continue;
      (known.has(client) ? changes.updated : changes.added).push(client);
      known.set(client, text);
      awareness.states.set(client, entry.s);
      awareness.meta.set(client, { clock: (awareness.meta.get(client)?.clock ?? 0) + 1, lastUpdated: now });
    }
    for (const client of known.keys()) {
      if (present.has(client)) continue;
      known.delete(client);
      awareness.states.delete(client);
      changes.removed.push(client);
    }
    if (changes.added.length + changes.updated.length + changes.removed.length > 0) {
      awareness.emit('change', [changes, ORIGIN]);
      awareness.emit('update', [changes, ORIGIN]);
    }
  };

  const renew = setInterval(() => {
    const now = Date.now();
    for (const client of known.keys()) {
      const meta = awareness.meta.get(client);
      if (meta) meta.lastUpdated = now;
    }
  }, RENEW_MS);

  awareness.on('change', onLocal);
  const stop = space.presence.subscribe(onMembers);
  onMembers(space.presence.list());
  if (awareness.getLocalState() !== null) publish();

  return () => {
    if (!bound) return;
    bound = false;
    awareness.off('change', onLocal);
    stop();
    clearInterval(renew);
    if (timer !== undefined) clearTimeout(timer);
    const meta = ownMeta();
    if (isObject(meta.yjs) && key in meta.yjs) {
      const docs = { ...meta.yjs };
      delete docs[key];
      space.presence.set({ ...meta, yjs: docs });
    }
    const removed = [...known.keys()];
    for (const client of removed) awareness.states.delete(client);
    known.clear();
    if (removed.length > 0) awareness.emit('change', [{ added: [], updated: [], removed }, ORIGIN]);
  };
}
