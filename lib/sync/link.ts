/**
 * A link: a replica's lasting intent to sync with one peer through one transport. It opens a connection,
 * runs a session on it, and when the connection drops opens another after a jittered exponential backoff
 * (250 ms doubling up to 10 s), until `close()`. The replica keeps working offline in between; nothing queued
 * is lost, because what a peer has not acknowledged is simply streamed again from its cursor.
 *
 * A link waiting out its backoff reconnects at once on `retryNow()`, which the transport triggers through its
 * optional `onWake` hook (concord/ws: the browser's `online` event, the page becoming visible again).
 *
 * Dormant links: where several instances share one storage (browser tabs), only the instance holding the
 * network role runs its links (lib/sync/tabs.ts). The others' links are dormant: no connection, their status
 * is the one the role's holder reports, and a wake is passed on to the holder. `setActive` switches.
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
  /** First reconnect delay and its cap, in ms (default 250 and 10 000); each delay is jittered ×[0.5, 1). */
  backoff?: { base: number; max: number };
  maxFrameBytes?: number;
  timers?: Timers;
  random?: () => number;
}

export const DEFAULT_MAX_FRAME_BYTES = 4 * 1024 * 1024;
export const DEFAULT_BACKOFF = { base: 250, max: 10_000 } as const;

/** How the replica runs a link where instances share the network role (lib/sync/tabs.ts); internal. */
export interface LinkRole {
  /** Whether this instance runs its links now (holds the network role). */
  readonly active: boolean;
  /** A dormant link's status: the one the role's holder reports. */
  dormantStatus(): ReplicaStatus;
  /** A dormant link's transport signalled a wake: ask the role's holder to reconnect now. */
  wake(): void;
}

/** Close codes after which retrying with the same credentials is pointless until the token changes. */
const REFUSED = new Set<number>([CloseCode.UNAUTHORIZED, CloseCode.FORBIDDEN, CloseCode.VERSION_MISMATCH]);
/** A frame over our frame limit came: the ws library's close (1009), the session's (4413). */
const OVER_LIMIT = new Set<number>([1009, CloseCode.TOO_LARGE]);

export class Link {
  private session: Session | undefined;
  private stopped = false;
  private attempt = 0;
  /** Whether this outage's first failed connection attempt was reported already. */
  private outageReported = false;
  private peer: string | undefined;
  /** The epochs of that peer's log as its last hello named them (lineage.ts mayServe). */
  private peerEpochs: string[] | undefined;
  private wake: (() => void) | undefined;
  /** A wake came while an attempt was under way (nothing waited for it): the attempt's end retries at once. */
  private wokenDuringAttempt = false;
  /** The last connection ended for a reason that wants a new one at once: its token expired (a fresh one), or its hello was made for another peer. */
  private reconnectAtOnce = false;
  private timer: unknown;
  private readonly timers: Timers;
  private readonly random: () => number;
  private active: boolean;
  private readonly unwake: (() => void) | undefined;

  constructor(
    private readonly hub: SyncHub,
    private readonly transport: Transport,
    private readonly options: LinkOptions & { maxValueBytes: number; role?: LinkRole; onClose?: () => void },
  ) {
    this.timers = options.timers ?? defaultTimers;
    this.random = options.random ?? Math.random;
    this.active = options.role?.active ?? true;
    this.unwake = transport.onWake?.(() => this.retryNow());
    hub.addLink(this);
    void this.run();
  }

  get status(): ReplicaStatus {
    if (this.stopped) return 'offline';
    if (!this.active) return this.options.role?.dormantStatus() ?? 'offline';
    return this.session?.status ?? 'connecting';
  }

  /** Whether this link runs (opens connections) rather than being dormant. */
  get isActive(): boolean {
    return this.active && !this.stopped;
  }

  /**
   * Reconnects at once if the link is waiting out its backoff (the network is back, the page is visible
   * again), with the backoff started over. A dormant link asks the instance holding the network role instead.
   */
  retryNow(): void {
    if (this.stopped) return;
    if (!this.active) return this.options.role?.wake();
    this.attempt = 0;
    this.timers.clearTimeout(this.timer);
    if (this.wake) this.wake();
    // No backoff to cut short: an attempt is under way (its end retries at once), or a connection is up (nothing to do).
    else if (!this.session || this.session.closed) this.wokenDuringAttempt = true;
  }

  /** @internal Runs (true) or suspends (false) the link: the instance gained or lost the network role. */
  setActive(on: boolean): void {
    if (this.stopped || this.active === on) return;
    this.active = on;
    this.attempt = 0;
    if (!on) this.session?.close(CloseCode.GOING_AWAY, 'network role moved to another instance');
    this.timers.clearTimeout(this.timer);
    this.wake?.();
    this.hub.refreshStatus();
  }

  /** The peer this link runs to (the hub counts its lacks, lacks.ts): none while dormant or closed. */
  get runsTo(): string | undefined {
    return this.isActive ? this.peer : undefined;
  }

  /** The replicaId of the peer, once a hello was received. */
  get peerId(): string | undefined {
    return this.peer;
  }

  /** Disconnects for good: the replica keeps working offline. */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.unwake?.();
    this.session?.close(CloseCode.NORMAL, 'link closed');
    this.timers.clearTimeout(this.timer);
    this.wake?.();
    this.hub.removeLink(this, this.peer); // what it could not send is not waited for, unless another link runs to it (lacks.ts)
    this.options.onClose?.();
  }

  private async run(): Promise<void> {
    // The peer last seen through this transport: our hello then carries our cursors (one round trip).
    if (this.transport.label && this.peer === undefined) {
      this.peer = await this.hub.core.storage.getMeta<string>('peer:' + this.transport.label).catch(() => undefined);
    }
    while (!this.stopped) {
      if (!this.active) {
        // Dormant: another instance holds the network role; wait until this one gets it (or the link closes).
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
        continue;
      }
      this.wokenDuringAttempt = false;
      const code = await this.connectOnce();
      if (this.stopped) break;
      if (!this.active) continue;
      if (this.transport.reconnect === false) {
        this.close();
        break;
      }
      if (this.reconnectAtOnce) {
        this.reconnectAtOnce = false;
        this.attempt = 0;
        continue;
      }
      const refused = code !== undefined && REFUSED.has(code);
      if (refused) this.attempt = Math.max(this.attempt, 4);
      // The relay binds replicaIds to users: ours is another's there. A new id, then the backoff as after any failure
      // (not at once: a relay answering every id with ID_CONFLICT would otherwise make us mint ids in a loop).
      if (code === CloseCode.ID_CONFLICT) await this.hub.core.renewIdentity().catch((e) => this.hub.core.events.emit('error', e));
      if (this.wokenDuringAttempt && !refused) {
        // The network came back (or the page became visible) while the attempt was still failing: one
        // prompt retry instead of the backoff. A refusal is the peer's answer, not the network's: it waits.
        this.wokenDuringAttempt = false;
        this.attempt = 0;
        continue;
      }
      const { base, max } = this.options.backoff ?? DEFAULT_BACKOFF;
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
          // A session that was authenticated and then closed with 4401 ran out of token time: with a token
          // function the next connection asks for a fresh one — a routine reconnect, not a refusal.
          const expired = code === CloseCode.UNAUTHORIZED && session?.peerId !== undefined && typeof this.transport.token === 'function';
          session?.closedBy(code, reason);
          if (expired) this.reconnectAtOnce = true;
          else if (REFUSED.has(code)) {
            this.hub.core.events.emit('error', new ConcordError(code === CloseCode.FORBIDDEN ? 'FORBIDDEN' : 'UNAUTHORIZED', `the peer refused the connection (${code}): ${reason}`));
          } else if (OVER_LIMIT.has(code) && !this.outageReported) {
            // Our frame limit is ours alone (the peer does not know it): nothing past that frame can come (lacks.ts).
            this.outageReported = true;
            this.hub.core.events.emit('error', new ConcordError('VALUE_TOO_LARGE', `the peer sent a frame over this connection's frame limit (close ${code}: ${reason}): nothing past it reaches this replica until the transport's maxFrameBytes is raised to the peer's (a relay's --max-payload)`));
          }
          ended(code);
        },
      });
      if (this.stopped || !this.active) {
        conn.close(this.stopped ? CloseCode.NORMAL : CloseCode.GOING_AWAY, this.stopped ? 'link closed' : 'network role moved to another instance');
        return undefined;
      }
      session = new Session(this.hub, conn, {
        role: 'client',
        ...(token !== undefined ? { token } : {}),
        spaces: 'opened',
        ...(this.peer ? { expectedPeer: this.peer } : {}),
        ...(this.peerEpochs ? { expectedEpochs: this.peerEpochs } : {}),
        maxFrameBytes: conn.maxFrameBytes ?? this.options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
        maxValueBytes: this.options.maxValueBytes,
        now: this.hub.core.now,
        timers: this.timers,
        ...(this.options.antiEntropyInterval !== undefined ? { antiEntropyInterval: this.options.antiEntropyInterval } : {}),
        onRehello: () => (this.reconnectAtOnce = true),
        onPeer: (id, history) => {
          this.peerEpochs = history.map(([e]) => e); // the registry learns them in the session (epoch-chain.ts)
          if (id === this.peer) return;
          if (this.peer !== undefined) this.hub.lacks.renamed(this.peer, id); // a relay restarted: its new id (lacks.ts)
          this.peer = id;
          const label = this.transport.label;
          if (label) void this.hub.core.storage.transact((tx) => tx.setMeta('peer:' + label, id)).catch(() => {});
        },
        onStatus: () => {
          if (session?.status === 'synced') {
            this.attempt = 0;
            this.wokenDuringAttempt = false; // a wake during an attempt that succeeded says nothing about the next outage
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
