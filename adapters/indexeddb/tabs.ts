/**
 * What the tabs of one origin sharing a database tell each other.
 *
 * Hints (BroadcastChannel `concord-idb:<name>`): after a commit, the spaces it changed. Only a hint: a
 * closing tab can drop it; the receiver reads the change log by sequence, which is the source of truth, and
 * every 2 s a tab that listens checks the shared sequence and announces every space when it moved (`watch`).
 * BroadcastChannel delivers to every other channel object of that name (other tabs, other instances in
 * this tab), never back to the sender.
 *
 * Leadership (Web Locks `concord-idb-leader:<name>`): the instance holding the lock holds the network role.
 * The lock is held until the instance stops competing, its storage closes, its page is frozen, or the tab goes
 * away (the browser releases it then); the lock manager grants it to the next waiting instance: exactly one
 * leader among live instances. A waiting instance may steal it from a holder that stopped answering
 * (lib/sync/tabs.ts decides when); the holder steps down when its request is rejected.
 * Presence of instances (Web Locks `concord-idb-open:<name>`, shared mode): every open instance holds it;
 * an instance that opens while another holds it continues the log's epoch instead of starting one (the
 * replica's epochs, lib/epochs.ts, tell restores from reopenings; tabs are neither).
 * Without BroadcastChannel no hints flow; without Web Locks this instance is alone and leads.
 */
import type { Leadership } from '../../lib/storage.js';

type Listener<T> = (value: T) => void;

/** How often a tab checks the shared sequence for commits no hint announced (ms). */
export const HINT_POLL_MS = 2000;

export class Hints {
  private channel: BroadcastChannel | undefined;
  private readonly listeners = new Set<Listener<string[]>>();
  private poll: ReturnType<typeof setInterval> | undefined;
  private lastSeq: number | undefined;

  constructor(private readonly name: string) {}

  /**
   * A hint is lost when its tab closes right after the commit: every `HINT_POLL_MS`, while someone listens,
   * the shared sequence is read, and when it moved since the last look every space is announced (the reader
   * reads the log after its marks, so announcing too much costs a few reads, never a duplicate).
   */
  watch(readSeq: () => Promise<number | undefined>, listSpaces: () => Promise<string[]>): void {
    if (this.poll) return;
    const look = async () => {
      const seq = (await readSeq()) ?? 0;
      const before = this.lastSeq;
      this.lastSeq = seq;
      if (before === undefined || seq === before || this.listeners.size === 0) return;
      const spaces = await listSpaces();
      for (const listener of this.listeners) listener(spaces);
    };
    void look().catch(() => {});
    this.poll = setInterval(() => void look().catch(() => {}), HINT_POLL_MS);
    (this.poll as { unref?: () => void }).unref?.();
  }

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
    clearInterval(this.poll);
    this.poll = undefined;
    this.lastSeq = undefined;
  }
}

function parseHint(data: unknown): string[] | undefined {
  if (data === null || typeof data !== 'object') return undefined;
  const spaces = (data as { spaces?: unknown }).spaces;
  return Array.isArray(spaces) && spaces.every((s) => typeof s === 'string') ? (spaces as string[]) : undefined;
}

interface LockManagerLike {
  request(
    name: string,
    options: { signal?: AbortSignal; mode?: 'shared' | 'exclusive'; steal?: boolean },
    callback: () => Promise<void>,
  ): Promise<unknown>;
  query?(): Promise<{ held?: Array<{ name?: string }> }>;
}

function lockManager(): LockManagerLike | undefined {
  const nav = (globalThis as { navigator?: { locks?: LockManagerLike } }).navigator;
  return typeof nav?.locks?.request === 'function' ? nav.locks : undefined;
}

/** Why this instance competes: the app asked (`storage.leadership()`), or the replica has links (`shared()`). */
export type LeadershipReason = 'manual' | 'links';

/** One request for the leader lock: waiting (abortable), then held until `release` or a steal. */
interface Hold {
  readonly abort: AbortController;
  release?: () => void;
}

/**
 * The leader lock of one instance. It competes while some reason wants it, the storage is open and the page
 * is not frozen (a frozen page or one in the back/forward cache gives the role up, so the other tabs need not
 * wait for a stalled one; it competes again on resume). `takeOver()` steals the lock from a holder that stopped
 * answering; a holder whose lock was stolen learns it when the lock manager rejects its request, drops the role
 * and queues again.
 */
export class TabLeadership implements Leadership {
  private leader = false;
  private readonly wants = new Set<LeadershipReason>();
  private open = false;
  private frozen = false;
  private hold: Hold | undefined;
  private readonly listeners = new Set<Listener<boolean>>();

  constructor(private readonly name: string) {}

  get isLeader(): boolean {
    return this.leader;
  }

  onChange(listener: Listener<boolean>): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  /** Competes (true) or stops competing (false) for a reason; the role is wanted while any reason wants it. */
  want(reason: LeadershipReason, on: boolean): void {
    if (on) this.wants.add(reason);
    else this.wants.delete(reason);
    this.update();
  }

  /** The storage opened (true) or closed (false): only an open storage competes. */
  setOpen(open: boolean): void {
    this.open = open;
    this.update();
  }

  /** The page was frozen or put in the back/forward cache (true), or resumed (false). */
  setFrozen(frozen: boolean): void {
    this.frozen = frozen;
    this.update();
  }

  /** Takes the lock at once, even from a holder that stopped answering (Web Locks `steal`). */
  takeOver(): void {
    if (this.leader || !this.competing) return;
    this.drop();
    this.acquire(true);
  }

  private get competing(): boolean {
    return this.wants.size > 0 && this.open && !this.frozen;
  }

  private update(): void {
    if (this.competing && !this.hold) this.acquire(false);
    else if (!this.competing && this.hold) this.drop();
  }

  private acquire(steal: boolean): void {
    const hold: Hold = { abort: new AbortController() };
    this.hold = hold;
    const locks = lockManager();
    if (!locks) {
      // Without Web Locks this instance cannot know of others: it leads alone.
      this.set(true);
      return;
    }
    // A steal cannot be aborted while waiting (it never waits); a plain request can.
    locks
      .request(`concord-idb-leader:${this.name}`, steal ? { steal: true } : { signal: hold.abort.signal }, () =>
        new Promise<void>((resolve) => {
          if (this.hold !== hold) return resolve();
          hold.release = resolve;
          this.set(true);
        }),
      )
      .catch(() => {
        // Aborted while waiting (we dropped it), stolen while held, or no lock manager here (opaque origin).
      })
      .finally(() => {
        if (this.hold !== hold) return;
        // Lost without dropping it: another instance stole the lock. Step down, and queue again if still wanted.
        this.hold = undefined;
        this.set(false);
        this.update();
      });
  }

  private drop(): void {
    const hold = this.hold;
    this.hold = undefined;
    hold?.abort.abort();
    hold?.release?.();
    this.set(false);
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
    // Hold our share first, then count the holders: two tabs opening at once each see the other (asking first,
    // both could see nobody and both start a new log epoch while the other writes on: epochs.ts).
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
    try {
      const state = await locks.query?.();
      this.elsewhere = (state?.held ?? []).filter((l) => l.name === lock).length > (this.release ? 1 : 0);
    } catch {
      this.elsewhere = false;
    }
  }

  stop(): void {
    this.release?.();
    this.release = undefined;
  }
}
