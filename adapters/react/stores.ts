/**
 * External stores for React's useSyncExternalStore, one per (space, key), (space, prefix) or space presence,
 * shared by every component that reads the same thing.
 *
 * Invariants (useSyncExternalStore's contract):
 * - `getSnapshot` returns the same object until what was read changed: a new snapshot is published only when
 *   a read differs from the last one (context, value, conflict), so re-renders follow real changes only.
 * - A store subscribes narrowly: `space.subscribe(key)` for one key, `space.subscribe(prefix + '*')` for a
 *   scan, filtered exactly (a `*` inside a key would otherwise widen the pattern); changes elsewhere never wake it.
 * - Subscribe, unsubscribe, subscribe again (StrictMode does it on mount) keeps the snapshot: no flash of
 *   `loading`, and nothing read again.
 * - A store nobody listens to keeps listening to the space for a short grace, then stops and leaves the cache: a
 *   component mounting meanwhile renders with `getSnapshot` before it subscribes, so the snapshot must still follow
 *   the space then (stopped at once, it showed a value superseded meanwhile, with `loading: false`).
 * - Nothing starts before the first subscribe (React subscribes after commit; a render that is never committed, or
 *   StrictMode's second render, starts nothing): a store is made and read during render, so making one has no effect.
 * - Every listener is called: one that throws is told on the replica's 'error' event, and the next is called still.
 * - A failed read (`error` set) is read again at the replica's next 'synced' status, on `retry()`, and on a change.
 */
import { deepEqual } from '../../lib/equal.js';
import type { Space } from '../../lib/space.js';
import type { PresenceMember } from '../../lib/sync/presence-hub.js';
import type { GetResult } from '../../lib/types.js';

export interface ValueSnapshot<T> {
  /** True until the first read finished. */
  readonly loading: boolean;
  /** The key's value (merged, or the latest sibling); undefined when absent or deleted. */
  readonly value: T | undefined;
  /** The whole read: siblings, versions, conflict, and the context to write back with. */
  readonly result: GetResult<T> | undefined;
  /** Why the last read failed (e.g. the replica closed), else undefined. */
  readonly error: unknown;
  /** Reads again (after a failed read; also done at the replica's next 'synced' status and at a change of the key). */
  readonly retry: () => void;
}

export type ScanEntry<T> = GetResult<T> & { readonly key: string };

export interface ScanSnapshot<T> {
  readonly loading: boolean;
  /** Every live key under the prefix, in key order. */
  readonly entries: readonly ScanEntry<T>[];
  readonly error: unknown;
  /** Scans again (after a failed scan; also done at the replica's next 'synced' status and at a change under the prefix). */
  readonly retry: () => void;
}

const EVICT_AFTER_MS = 1000;

abstract class Store<S> {
  private readonly listeners = new Set<() => void>();
  private evictTimer: ReturnType<typeof setTimeout> | undefined;
  /** Listening to the space: from the first subscriber until the grace after the last one ran out. */
  private started = false;
  /** Set by each store's constructor (a snapshot may hold the store's own functions). */
  protected snapshot!: S;

  constructor(
    protected readonly space: Space,
    private readonly evict: () => void,
  ) {}

  readonly getSnapshot = (): S => this.snapshot;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    clearTimeout(this.evictTimer);
    if (!this.started) {
      this.started = true;
      this.start();
    }
    return () => {
      if (!this.listeners.delete(listener) || this.listeners.size > 0) return;
      this.evictTimer = setTimeout(() => {
        if (this.listeners.size > 0) return;
        this.started = false;
        this.stop();
        this.evict();
      }, EVICT_AFTER_MS);
      (this.evictTimer as { unref?: () => void }).unref?.();
    };
  };

  protected publish(next: S): void {
    this.snapshot = next;
    for (const l of [...this.listeners]) {
      // One listener's throw neither stops the others nor reaches the read that published (a scan took it for its own).
      try {
        l();
      } catch (e) {
        this.space.report(e);
      }
    }
  }

  protected get listening(): boolean {
    return this.started;
  }

  protected abstract start(): void;
  protected abstract stop(): void;
}

function sameRead<T>(a: GetResult<T> | undefined, b: GetResult<T> | undefined): boolean {
  if (!a || !b) return a === b;
  return a.context === b.context && a.conflict === b.conflict && deepEqual(a.value, b.value) && deepEqual(a.siblings, b.siblings);
}

/** A store of reads that may fail: read again on `retry()` and at the replica's next 'synced' status while failed. */
abstract class ReadStore<S extends { readonly error: unknown }> extends Store<S> {
  private stops: Array<() => void> = [];

  /** Reads again, where the store listens (one that does not reads afresh at its next subscribe). */
  readonly retry = (): void => {
    if (this.listening) this.reread();
  };

  protected start(): void {
    this.stops = [this.follow(), this.space.onSynced(() => this.snapshot.error !== undefined && this.retry())];
  }

  protected stop(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  /** Starts following the space (and reads); returns the unsubscribe. */
  protected abstract follow(): () => void;
  protected abstract reread(): void;
}

export class ValueStore<T> extends ReadStore<ValueSnapshot<T>> {
  private generation = 0;

  constructor(
    space: Space,
    private readonly key: string,
    evict: () => void,
  ) {
    super(space, evict);
    this.snapshot = { loading: true, value: undefined, result: undefined, error: undefined, retry: this.retry };
  }

  protected follow(): () => void {
    const off = this.space.subscribe(this.key, (change) => change.key === this.key && this.read());
    this.read();
    return off;
  }

  protected reread(): void {
    this.read();
  }

  private read(): void {
    // Only the newest read publishes: an older one finishing late never overwrites it.
    const generation = ++this.generation;
    const done = (result: GetResult<T> | undefined, error: unknown) => {
      if (generation !== this.generation) return;
      const cur = this.snapshot;
      if (!cur.loading && cur.error === error && sameRead(cur.result, result)) return;
      this.publish({ loading: false, value: result?.value, result, error, retry: this.retry });
    };
    let pending: Promise<GetResult<T> | undefined>;
    try {
      pending = this.space.get<T>(this.key);
    } catch (e) {
      pending = Promise.reject(e);
    }
    pending.then((r) => done(r, undefined), (e: unknown) => done(undefined, e));
  }
}

export class ScanStore<T> extends ReadStore<ScanSnapshot<T>> {
  private entries = new Map<string, ScanEntry<T>>();
  private dirty = new Set<string>();
  private rescan = false;
  private running = false;

  constructor(
    space: Space,
    private readonly prefix: string,
    evict: () => void,
  ) {
    super(space, evict);
    this.snapshot = { loading: true, entries: [], error: undefined, retry: this.retry };
  }

  protected follow(): () => void {
    const off = this.space.subscribe(this.prefix + '*', (change) => {
      if (!change.key.startsWith(this.prefix)) return;
      this.dirty.add(change.key);
      void this.pump();
    });
    this.reread();
    return off;
  }

  protected reread(): void {
    this.rescan = true;
    void this.pump();
  }

  /** One loop at a time: a full scan when (re)started, then a `get` per changed key; publishes once per pass. */
  private async pump(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.listening && (this.rescan || this.dirty.size > 0)) {
        let changed = false;
        if (this.rescan) {
          this.rescan = false;
          this.dirty.clear();
          const next = new Map<string, ScanEntry<T>>();
          for await (const e of this.space.scan<T>(this.prefix)) {
            const old = this.entries.get(e.key);
            next.set(e.key, old && sameRead(old, e) ? old : e);
          }
          changed = next.size !== this.entries.size || [...next].some(([k, e]) => this.entries.get(k) !== e);
          this.entries = next;
        } else {
          const keys = [...this.dirty];
          this.dirty.clear();
          for (const key of keys) {
            const r = await this.space.get<T>(key);
            const old = this.entries.get(key);
            if (!r) changed = this.entries.delete(key) || changed;
            else if (!old || !sameRead(old, r)) {
              this.entries.set(key, { key, ...r });
              changed = true;
            }
          }
        }
        if (changed || this.snapshot.loading || this.snapshot.error !== undefined) {
          const entries = [...this.entries.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
          this.publish({ loading: false, entries, error: undefined, retry: this.retry });
        }
      }
    } catch (error) {
      this.rescan = true;
      this.publish({ loading: false, entries: this.snapshot.entries, error, retry: this.retry });
    } finally {
      this.running = false;
    }
  }
}

function sameMembers(a: readonly PresenceMember[], b: readonly PresenceMember[]): boolean {
  return a.length === b.length && a.every((m, i) => m.id === b[i]!.id && m.self === b[i]!.self && deepEqual(m.meta, b[i]!.meta));
}

export class PresenceStore extends Store<readonly PresenceMember[]> {
  private unsubscribe: (() => void) | undefined;

  constructor(space: Space, evict: () => void) {
    super(space, evict);
    // What is known, without starting presence in the space (list() would: its timer, a digest to the relay) — the
    // store is made in render. start() (the first subscribe) starts it.
    this.snapshot = space.presence.peek();
  }

  protected start(): void {
    this.unsubscribe = this.space.presence.subscribe((members) => this.update(members));
    this.update(this.space.presence.list());
  }

  protected stop(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private update(members: readonly PresenceMember[]): void {
    if (!sameMembers(this.snapshot, members)) this.publish(members);
  }
}

/** The cache: one store per space and key (or prefix); spaces are held weakly. */
export class StoreCache<K, S> {
  private readonly bySpace = new WeakMap<Space, Map<K, S>>();

  constructor(private readonly create: (space: Space, key: K, evict: () => void) => S) {}

  get(space: Space, key: K): S {
    let map = this.bySpace.get(space);
    if (!map) this.bySpace.set(space, (map = new Map()));
    let store = map.get(key);
    if (!store) {
      const stores = map;
      const created: S = this.create(space, key, () => stores.get(key) === created && stores.delete(key));
      map.set(key, (store = created));
    }
    return store;
  }
}
