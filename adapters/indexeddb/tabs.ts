/**
 * What the tabs of one origin sharing a database tell each other.
 *
 * Hints (BroadcastChannel `concord-idb:<name>`): after a commit, the spaces it changed. Only a hint: a
 * closing tab can drop it; the receiver reads the change log by sequence, which is the source of truth.
 * BroadcastChannel delivers to every other channel object of that name (other tabs, other instances in
 * this tab), never back to the sender.
 *
 * Leadership (Web Locks `concord-idb-leader:<name>`): the instance holding the lock holds the network role.
 * The lock is held until `stop()` or until the tab goes away (the browser releases it then), and the lock
 * manager grants it to the next waiting instance: exactly one leader among live instances.
 * Presence of instances (Web Locks `concord-idb-open:<name>`, shared mode): every open instance holds it;
 * an instance that opens while another holds it continues the log's epoch instead of starting one (the
 * replica's epochs, lib/epochs.ts, tell restores from reopenings; tabs are neither).
 * Without BroadcastChannel no hints flow; without Web Locks this instance is alone and leads.
 */
import type { Leadership } from '../../lib/storage.js';

type Listener<T> = (value: T) => void;

export class Hints {
  private channel: BroadcastChannel | undefined;
  private readonly listeners = new Set<Listener<string[]>>();

  constructor(private readonly name: string) {}

  start(): void {
    if (this.channel || typeof BroadcastChannel !== 'function') return;
    const channel = new BroadcastChannel(`concord-idb:${this.name}`);
    channel.onmessage = (event: MessageEvent) => {
      const spaces = parseHint(event.data);
      if (spaces) for (const listener of this.listeners) listener(spaces);
    };
    this.channel = channel;
  }

  post(spaces: string[]): void {
    try {
      this.channel?.postMessage({ concord: 1, spaces });
    } catch {
      // A hint that cannot be sent is a hint dropped; readers catch up on the next one.
    }
  }

  on(listener: Listener<string[]>): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  stop(): void {
    this.channel?.close();
    this.channel = undefined;
  }
}

function parseHint(data: unknown): string[] | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const spaces = (data as { spaces?: unknown }).spaces;
  return Array.isArray(spaces) && spaces.every((s) => typeof s === 'string') ? (spaces as string[]) : undefined;
}

interface LockManagerLike {
  request(name: string, options: { signal?: AbortSignal; mode?: 'shared' | 'exclusive' }, callback: () => Promise<void>): Promise<unknown>;
  query?(): Promise<{ held?: Array<{ name?: string }> }>;
}

function lockManager(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return typeof nav?.locks?.request === 'function' ? nav.locks : undefined;
}

export class TabLeadership implements Leadership {
  private leader = false;
  private wanted = false;
  private readonly listeners = new Set<Listener<boolean>>();
  private abort: AbortController | undefined;
  private release: (() => void) | undefined;

  constructor(private readonly name: string) {}

  get isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: Listener<boolean>): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Marks the role as wanted, to compete once the storage is open. */
  want(): void {
    this.wanted = true;
  }

  /** Starts competing for the role (idempotent). */
  start(): void {
    this.wanted = true;
    if (this.abort || this.leader) return;
    const locks = lockManager();
    if (!locks) {
      this.set(true);
      return;
    }
    const abort = (this.abort = new AbortController());
    locks
      .request(`concord-idb-leader:${this.name}`, { signal: abort.signal }, () =>
        new Promise<void>((resolve) => {
          if (abort.signal.aborted) return resolve();
          this.release = resolve;
          this.set(true);
        }),
      )
      .catch(() => {
        // Aborted while waiting (stop), or the lock manager is unavailable (opaque origin): nothing held.
      });
  }

  /** Gives the role up (or stops waiting for it); the next waiting instance takes over. */
  stop(): void {
    this.abort?.abort();
    this.abort = undefined;
    this.release?.();
    this.release = undefined;
    this.set(false);
  }

  /** Competes again after a reopen if the role was wanted before. */
  resume(): void {
    if (this.wanted) this.start();
  }

  private set(value: boolean): void {
    if (this.leader === value) return;
    this.leader = value;
    for (const listener of this.listeners) listener(value);
  }
}

/** This instance's hold on the shared "open" lock, and whether another instance held it when we opened. */
export class OpenInstances {
  private release: (() => void) | undefined;
  /** Another live instance had the storage open when this one opened. */
  elsewhere = false;

  constructor(private readonly name: string) {}

  async start(): Promise<void> {
    const locks = lockManager();
    if (!locks || this.release) return;
    const lock = `concord-idb-open:${this.name}`;
    try {
      const state = await locks.query?.();
      this.elsewhere = (state?.held ?? []).some((l) => l.name === lock);
    } catch {
      this.elsewhere = false;
    }
    await new Promise<void>((held) => {
      void locks
        .request(lock, { mode: 'shared' }, () =>
          new Promise<void>((resolve) => {
            this.release = resolve;
            held();
          }),
        )
        .catch(() => held());
    });
  }

  stop(): void {
    this.release?.();
    this.release = undefined;
  }
}
