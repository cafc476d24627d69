/**
 * The browser side of the shared network role (lib/storage.ts `SharedInstances`; the protocol is
 * lib/sync/tabs.ts): the leader lock (tabs.ts TabLeadership, Web Locks), messages among the instances
 * (BroadcastChannel `concord-idb-net:<name>`, apart from the commit hints), and the page's lifecycle.
 *
 * What the page's lifecycle tells, and what is done with it:
 * - `freeze` (Page Lifecycle: the browser is about to stop the page's tasks, e.g. a background tab on a
 *   phone) and `pagehide` with `persisted` (the page goes to the back/forward cache): the role is given up at
 *   once, so the other tabs need not detect a stalled leader; `resume` / `pageshow` compete again.
 * - `pagehide` without `persisted` (the page unloads): reported (`onClosing`): the tab leaves presence at once
 *   and a leader resigns, best effort (its messages may be lost); the browser releases its locks anyway.
 * - A discarded or crashed tab: the browser releases its locks; the others see its presence expire.
 * - `visibilitychange` to visible: reported (`onVisible`): a follower checks the leader and asks it to reconnect.
 * - A tab that stalls without any signal (a long task, a debugger, a suspended process) cannot tell: the others
 *   notice its silence and take the role over (lib/sync/tabs.ts).
 * Without BroadcastChannel no messages flow (each instance then only sees its own links' state).
 */
import type { SharedInstances } from '../../lib/storage.js';
import type { TabLeadership } from './tabs.js';

interface Target {
  addEventListener(type: string, listener: (event: Event) => void): void;
  removeEventListener(type: string, listener: (event: Event) => void): void;
}

function target(value: unknown): Target | undefined {
  const t = value as Partial<Target> | undefined;
  return typeof t?.addEventListener === 'function' && typeof t.removeEventListener === 'function' ? (t as Target) : undefined;
}

/** Page lifecycle events that freeze and resume the leader lock; started with the storage, stopped at close. */
export class PageLifecycle {
  private readonly stops: Array<() => void> = [];
  private readonly visibleListeners = new Set<() => void>();
  private readonly closingListeners = new Set<() => void>();

  constructor(private readonly leadership: TabLeadership) {}

  start(): void {
    if (this.stops.length) return;
    const doc = target((globalThis as { document?: unknown }).document);
    const win = target(globalThis);
    const on = (t: Target | undefined, type: string, fn: (event: Event) => void) => {
      if (!t) return;
      t.addEventListener(type, fn);
      this.stops.push(() => t.removeEventListener(type, fn));
    };
    on(doc, 'freeze', () => this.leadership.setFrozen(true));
    on(doc, 'resume', () => this.leadership.setFrozen(false));
    on(win, 'pagehide', (e) => {
      if ((e as Event & { persisted?: boolean }).persisted) return this.leadership.setFrozen(true);
      for (const listener of this.closingListeners) listener();
    });
    on(win, 'pageshow', (e) => (e as Event & { persisted?: boolean }).persisted && this.leadership.setFrozen(false));
    on(doc, 'visibilitychange', () => {
      if ((globalThis as { document?: { visibilityState?: string } }).document?.visibilityState !== 'visible') return;
      for (const listener of this.visibleListeners) listener();
    });
  }

  onVisible(listener: () => void): () => void {
    this.visibleListeners.add(listener);
    return () => void this.visibleListeners.delete(listener);
  }

  onClosing(listener: () => void): () => void {
    this.closingListeners.add(listener);
    return () => void this.closingListeners.delete(listener);
  }

  stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }
}

export class SharedTabs implements SharedInstances {
  private channel: BroadcastChannel | undefined;
  private readonly listeners = new Set<(message: unknown) => void>();

  constructor(
    private readonly name: string,
    private readonly leadership: TabLeadership,
    private readonly lifecycle: PageLifecycle,
  ) {}

  get isLeader(): boolean {
    return this.leadership.isLeader;
  }

  compete(on: boolean): void {
    this.leadership.want('links', on);
  }

  takeOver(): void {
    this.leadership.takeOver();
  }

  onLeaderChange(listener: (isLeader: boolean) => void): () => void {
    return this.leadership.onChange(listener);
  }

  post(message: unknown): void {
    try {
      this.channel?.postMessage(message);
    } catch {
      // Not cloneable or the channel is closing: a message lost, which the protocol allows for.
    }
  }

  onMessage(listener: (message: unknown) => void): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  onVisible(listener: () => void): () => void {
    return this.lifecycle.onVisible(listener);
  }

  onClosing(listener: () => void): () => void {
    return this.lifecycle.onClosing(listener);
  }

  /** Opens the channel (idempotent; at storage open). */
  start(): void {
    if (this.channel || typeof BroadcastChannel !== 'function') return;
    const channel = new BroadcastChannel(`concord-idb-net:${this.name}`);
    channel.onmessage = (event: MessageEvent) => {
      for (const listener of this.listeners) listener(event.data);
    };
    this.channel = channel;
  }

  /** Closes the channel (at storage close); the role is given up with the storage (TabLeadership.setOpen). */
  stop(): void {
    this.channel?.close();
    this.channel = undefined;
  }
}
