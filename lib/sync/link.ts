/**
 * A link: a replica's lasting intent to sync with one peer through one transport. It opens a connection,
 * runs a session on it, and when the connection drops opens another after a jittered exponential backoff,
 * until `close()`. The replica keeps working offline in between; nothing queued is lost, because what a
 * peer has not acknowledged is simply streamed again from its cursor.
 */
import { ConcordError } from '../errors.js';
import { CloseCode, type Connection, type Frame, type Transport } from '../transport.js';
import type { ReplicaStatus } from '../types.js';
import { parseNews } from './cluster-news.js';
import type { SyncHub } from './hub.js';
import { Session } from './session.js';

import { defaultTimers, type Timers } from './session-state.js';

export type { Timers } from './session-state.js';

export interface LinkOptions {
  /** Milliseconds between anti-entropy rounds on a synced link (default 60 000; 0 turns it off); both ends keep a timer. */
  antiEntropyInterval?: number;
  /** First reconnect delay and its cap, in ms (default 250 and 30 000); each delay is jittered ×[0.5, 1). */
  backoff?: { base: number; max: number };
  maxFrameBytes?: number;
  timers?: Timers;
  random?: () => number;
}

export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;


/** Close codes after which retrying with the same credentials is pointless until the token changes. */
const REFUSED = new Set<number>([CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN, CloseCode.VERSION_MISMATCH]);

export class Link {
  private session: Session | undefined;
  private stopped = false;
  private attempt = 0;
  /** Whether this outage's first failed connection attempt was reported already. */
  private outageReported = false;
  private peer: string | undefined;
  private wake: (() => void) | undefined;
  private timer: unknown;
  private readonly timers: Timers;
  private readonly random: () => number;

  constructor(
    private readonly hub: SyncHub,
    private readonly transport: Transport,
    private readonly options: LinkOptions & { maxValueBytes: number },
  ) {
    this.timers = options.timers ?? defaultTimers;
    this.random = options.random ?? Math.random;
    hub.addLink(this);
    void this.run();
  }

  get status(): ReplicaStatus {
    if (this.stopped) return 'offline';
    return this.session?.status ?? 'connecting';
  }

  /** The replicaId of the peer, once a hello was received. */
  get peerId(): string | undefined {
    return this.peer;
  }

  /** Disconnects for good: the replica keeps working offline. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.session?.close(CloseCode.NORMAL, 'link closed');
    this.timers.clearTimeout(this.timer);
    this.wake?.();
    this.hub.removeLink(this);
  }

  private async run(): Promise<void> {
    // The peer last seen through this transport: our hello then carries our cursors (one round trip).
    if (this.transport.label && this.peer === undefined) {
      this.peer = await this.hub.core.storage.getMeta<string>('peer:' + this.transport.label).catch(() => undefined);
    }
    while (!this.stopped) {
      const code = await this.connectOnce();
      if (this.stopped) break;
      if (this.transport.reconnect === false) {
        this.close();
        break;
      }
      if (code !== undefined && REFUSED.has(code)) this.attempt = Math.max(this.attempt, 4);
      // The relay binds replicaIds to users: ours is another's there. A new id, then at once again.
      if (code === CloseCode.ID_CONFLICT) await this.hub.core.renewIdentity().catch((e) => this.hub.core.events.emit('error', e));
      const { base, max } = this.options.backoff ?? { base: 250, max: 30_000 };
      const delay = Math.min(max, base * 2 ** this.attempt) * (0.5 + this.random() / 2);
      this.attempt = Math.min(this.attempt + 1, 20);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.timer = this.timers.setTimeout(resolve, delay);
      });
      this.wake = undefined;
    }
  }

  /** One connection, start to end; returns its close code (undefined when it never opened). */
  private async connectOnce(): Promise<number | undefined> {
    let session: Session | undefined;
    const early: Frame[] = [];
    let ended!: (code: number) => void;
    const done = new Promise<number>((resolve) => (ended = resolve));
    let conn: Connection;
    try {
      const token = typeof this.transport.token === 'function' ? await this.transport.token() : this.transport.token;
      conn = await this.transport.open({
        onMessage: (frame) => (session ? session.receive(frame) : early.push(frame)),
        onClose: (code, reason) => {
          session?.closedBy(code, reason);
          if (REFUSED.has(code)) {
            this.hub.core.events.emit('error', new ConcordError(code === CloseCode.FORBIDDEN ? 'FORBIDDEN' : 'UNAUTHORIZED', `the peer refused the connection (${code}): ${reason}`));
          }
          ended(code);
        },
      });
      if (this.stopped) {
        conn.close(CloseCode.NORMAL, 'link closed');
        return undefined;
      }
      session = new Session(this.hub, conn, {
        role: 'client',
        ...(token !== undefined ? { token } : {}),
        spaces: 'opened',
        ...(this.peer ? { expectedPeer: this.peer } : {}),
        maxFrameBytes: conn.maxFrameBytes ?? this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        maxValueBytes: this.options.maxValueBytes,
        now: this.hub.core.now,
        timers: this.timers,
        ...(this.options.antiEntropyInterval !== undefined ? { antiEntropyInterval: this.options.antiEntropyInterval } : {}),
        onPeer: (id) => {
          if (id === this.peer) return;
          this.peer = id;
          const label = this.transport.label;
          if (label) void this.hub.core.storage.transact((tx) => tx.setMeta('peer:' + label, id)).catch(() => {});
        },
        onStatus: () => {
          if (session?.status === 'synced') {
            this.attempt = 0;
            this.outageReported = false;
          }
          this.hub.refreshStatus();
        },
        onCluster: (json) => {
          const news = parseNews(json);
          if (news?.kind === 'relays') this.transport.relays?.(news.relays);
          else if (news?.kind === 'replicated') this.hub.core.acks.replicated(news.space, news.upTo, news.count);
        },
      });
      this.session = session;
      this.hub.refreshStatus();
      for (const f of early.splice(0)) session.receive(f);
      await session.start();
    } catch (e) {
      // The first failure of an outage is reported; the retries after it are not (an app offline for an hour
      // would otherwise get an error per attempt). A connection that reaches 'synced' ends the outage.
      if (!(e instanceof ConcordError && e.code === 'CLOSED') && !this.outageReported) {
        this.outageReported = true;
        this.hub.core.events.emit('error', e);
      }
      session?.close(CloseCode.INTERNAL, 'failed to start');
      return undefined;
    }
    const code = await done;
    this.session = undefined;
    this.hub.refreshStatus();
    return code;
  }

}
