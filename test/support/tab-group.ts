/**
 * Test doubles for tabs in one Node process: a group of SharedInstances ports with the contract of
 * lib/storage.ts (one lock holder among competing members, a steal, messages delivered asynchronously in
 * order to every other member), members that can stall (no message and no timer runs for them until they
 * resume, like a tab whose event loop is blocked), and an in-memory relay (a replica's `accept`) that counts
 * its connections.
 */
import type { SharedInstances, StorageAdapter } from '../../lib/storage.js';
import type { AcceptOptions, Connection, ConnectionHandlers, Replica, Transport } from '../../lib/index.js';
import type { Timers } from '../../lib/sync/link.js';

export interface Member extends SharedInstances {
  readonly name: string;
  /** Stops (true) or resumes (false) everything this member receives and every timer it set. */
  stall(on: boolean): void;
  /** Drops the messages this member posts (true) until told otherwise: a tab closing mid-message. */
  dropPosts(on: boolean): void;
  /** Timers that stall with the member. */
  readonly timers: Timers;
  /** Leaves the group (the tab closed): its lock is released. */
  leave(): void;
}

export function tabGroup() {
  const members: MemberImpl[] = [];
  let holder: MemberImpl | undefined;
  const queue: MemberImpl[] = [];

  const grantNext = () => {
    if (holder) return;
    const next = queue.shift();
    if (!next) return;
    holder = next;
    next.notify(true);
  };

  class MemberImpl implements Member {
    isLeader = false;
    private stalled = false;
    private dropping = false;
    private gone = false;
    private readonly inbox: Array<() => void> = [];
    private readonly leaderListeners = new Set<(on: boolean) => void>();
    private readonly messageListeners = new Set<(m: unknown) => void>();
    private readonly pausedTimers = new Map<number, () => void>();
    private nextTimer = 1;
    private readonly live = new Map<number, ReturnType<typeof setTimeout>>();

    constructor(readonly name: string) {}

    readonly timers: Timers = {
      setTimeout: (fn, ms) => {
        const id = this.nextTimer++;
        const run = () => {
          this.live.delete(id);
          if (this.stalled) this.pausedTimers.set(id, fn);
          else fn();
        };
        this.live.set(id, setTimeout(run, ms));
        return id;
      },
      clearTimeout: (h) => {
        clearTimeout(this.live.get(h as number));
        this.live.delete(h as number);
        this.pausedTimers.delete(h as number);
      },
    };

    /** Runs `fn` for this member now, or when it resumes. */
    private run(fn: () => void): void {
      if (this.gone) return;
      if (this.stalled) this.inbox.push(fn);
      else fn();
    }

    notify(on: boolean): void {
      setTimeout(() =>
        this.run(() => {
          if (this.isLeader === on) return;
          this.isLeader = on;
          for (const l of this.leaderListeners) l(on);
        }),
      );
    }

    compete(on: boolean): void {
      if (this.gone) return;
      if (on) {
        if (holder !== this && !queue.includes(this)) queue.push(this);
        grantNext();
      } else {
        const i = queue.indexOf(this);
        if (i >= 0) queue.splice(i, 1);
        if (holder === this) {
          holder = undefined;
          this.isLeader = false;
          for (const l of this.leaderListeners) l(false);
          grantNext();
        }
      }
    }

    takeOver(): void {
      if (holder === this || !queue.includes(this)) return;
      queue.splice(queue.indexOf(this), 1);
      const old = holder;
      holder = this;
      if (old) {
        old.notify(false);
        queue.push(old); // the stolen-from member queues again, as the adapter does
      }
      this.notify(true);
    }

    onLeaderChange(listener: (on: boolean) => void): () => void {
      this.leaderListeners.add(listener);
      return () => void this.leaderListeners.delete(listener);
    }

    post(message: unknown): void {
      if (this.gone || this.dropping) return;
      const copy = structuredClone(message);
      for (const m of members) if (m !== this) setTimeout(() => m.run(() => m.messageListeners.forEach((l) => l(copy))));
    }

    onMessage(listener: (m: unknown) => void): () => void {
      this.messageListeners.add(listener);
      return () => void this.messageListeners.delete(listener);
    }

    stall(on: boolean): void {
      this.stalled = on;
      if (on) return;
      for (const fn of this.inbox.splice(0)) fn();
      for (const [id, fn] of [...this.pausedTimers]) {
        this.pausedTimers.delete(id);
        fn();
      }
    }

    dropPosts(on: boolean): void {
      this.dropping = on;
    }

    leave(): void {
      this.compete(false);
      this.gone = true;
      members.splice(members.indexOf(this), 1);
    }
  }

  return {
    member(name: string): Member {
      const m = new MemberImpl(name);
      members.push(m);
      return m;
    },
    get holder(): string | undefined {
      return holder?.name;
    },
  };
}

/** A storage whose `shared()` is the given member (the rest delegates). */
export function withShared<S extends StorageAdapter>(storage: S, member: Member): S {
  return new Proxy(storage, {
    get(target, prop, receiver) {
      if (prop === 'shared') return () => member;
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * A relay in memory: `transport()` opens connections served by `relay.accept`; counts the open ones. `maxFrameBytes`:
 * a frame limit on both ends (the relay's --max-payload).
 * `authenticate`: the relay's (default: every token, every right, no principal); `transport(token)` sends `token`.
 */
export function memoryRelay(relay: Replica, maxFrameBytes?: number, authenticate: AcceptOptions['authenticate'] = () => ({ rights: () => 'write' })) {
  const limit = maxFrameBytes === undefined ? {} : { maxFrameBytes };
  let open = 0;
  let opened = 0;
  const transport = (token?: string): Transport => ({
    label: 'memory-relay',
    ...(token !== undefined ? { token } : {}),
    async open(handlers: ConnectionHandlers): Promise<Connection> {
      let closed = false;
      let server!: ConnectionHandlers;
      const end = (code: number, reason: string) => {
        if (closed) return;
        closed = true;
        open--;
        queueMicrotask(() => {
          server.onClose(code, reason);
          handlers.onClose(code, reason);
        });
      };
      const toServer: Connection = {
        ...limit,
        send: (f) => void (!closed && queueMicrotask(() => !closed && server.onMessage(f))),
        close: (code = 1000, reason = '') => end(code, reason),
      };
      const toClient: Connection = {
        ...limit,
        send: (f) => void (!closed && queueMicrotask(() => !closed && handlers.onMessage(f))),
        close: (code = 1000, reason = '') => end(code, reason),
      };
      server = relay.accept(toClient, { authenticate });
      open++;
      opened++;
      return toServer;
    },
  });
  return {
    transport,
    get open() {
      return open;
    },
    get opened() {
      return opened;
    },
  };
}
