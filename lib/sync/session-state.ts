/**
 * What a session is configured with: what the peer may do (grants), the session's options and timers, and
 * how failures map to close codes.
 */
import { ConcordError } from '../errors.js';
import { CloseCode } from '../transport.js';
import type { EpochEntry } from '../epochs.js';
import { ProtocolError } from './codec.js';
import { MsgType } from './messages.js';

export type Rights = 'read' | 'write';

export interface Grants {
  /** Rights per space; a function for patterns. */
  rights(space: string): Rights | undefined;
  /** Milliseconds since the epoch after which the grant is void (checked on every message). */
  expiresAt?: number;
  /**
   * The peer may tell this replica that its storage lost writes (a relay of the same cluster). Clients are
   * not: a client's claim never makes a relay re-identify.
   */
  trusted?: boolean;
  /** Who the credential speaks for (a token's `sub`); a replicaId is bound to the first principal using it (principals.ts). */
  principal?: string;
  /**
   * False when the credential grants write in no space (absent: it may write). Such a session teaches no epoch records
   * (epoch-chain.ts peerEpochs): the relay stores none of its states, and its id may be a writer's of its principal.
   * An `authenticate` of an app's own must set it for such credentials: `rights` is a function, so it is not derived.
   */
  writes?: boolean;
}

export interface Timers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /**
   * Optional: starts a timer `setTimeout` made again, with its callback and delay, whether it waits or ran (not one
   * cleared), and answers true; false where the handle cannot be (then nothing changed). Node's Timeout.refresh. A timer
   * armed again and again (each link's deferred ACK, ack-policy.ts) then stays one object, where a timer made per period
   * lived across the young generation's collections, which copied it.
   */
  refresh?(handle: unknown): boolean;
}

export const defaultTimers: Timers = {
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    (t as { unref?: () => void }).unref?.();
    return t;
  },
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
  refresh: (h) => {
    const t = h as { refresh?: unknown } | undefined;
    return typeof t?.refresh === 'function' && (t.refresh(), true); // a browser's handle is a number
  },
};

/**
 * `timers` whose callbacks' throws go to `fail`: a timer that sends (a deferred ACK, ack-policy.ts) may meet a transport
 * whose send throws (the socket went away): the session fails, as when a send throws handling a frame, not the process.
 */
export function guardedTimers(timers: Timers, fail: (e: unknown) => void): Timers {
  const guarded: Timers = {
    setTimeout: (fn, ms) =>
      timers.setTimeout(() => {
        try {
          fn();
        } catch (e) {
          fail(e);
        }
      }, ms),
    clearTimeout: (h) => timers.clearTimeout(h),
  };
  if (timers.refresh) guarded.refresh = (h) => timers.refresh!(h); // the callback `setTimeout` wrapped stays wrapped
  return guarded;
}

export const DEFAULT_ANTI_ENTROPY_INTERVAL = 60_000;

/**
 * Periodic repair: both ends keep a timer of `every` ms (none where 0 or less); each tick runs `tick` (session.ts: the
 * smaller replicaId starts a round in each settled space) and sets the next, until `stop` or the session `closed`.
 */
export class RepairTimer {
  private handle: unknown;

  constructor(
    private readonly timers: Timers,
    private readonly every: number,
    private readonly closed: () => boolean,
    private readonly tick: () => void,
  ) {}

  start(): void {
    if (this.every <= 0 || this.closed()) return;
    this.handle = this.timers.setTimeout(() => {
      if (this.closed()) return;
      this.tick();
      this.start();
    }, this.every);
  }

  stop(): void {
    this.timers.clearTimeout(this.handle);
  }
}

export interface SessionOptions {
  /** 'client' sends its hello first; 'server' waits for the peer's hello and authenticates it. */
  role: 'client' | 'server';
  /** Client: the credential for the hello. */
  token?: string;
  /** Server: checks the peer's token; throws ConcordError 'UNAUTHORIZED' to refuse. */
  authenticate?: (token: string, peerId: string) => Grants | Promise<Grants>;
  /** Which spaces to sync: those opened on this replica (clients), or whatever the peer asks for (servers). */
  spaces: 'opened' | 'requested';
  /** The peer this session expects (from an earlier session), so the hello can carry cursors. */
  expectedPeer?: string;
  /** The epochs of the expected peer's log as its last hello in this process named them (unknown after a restart). */
  expectedEpochs?: readonly string[];
  maxFrameBytes: number;
  maxValueBytes: number;
  now: () => number;
  /** Milliseconds between anti-entropy rounds once synced (default 60 000; 0 turns them off). Both ends keep the timer. */
  antiEntropyInterval?: number;
  timers?: Timers;
  onPeer?: (peerId: string, history: readonly EpochEntry[]) => void;
  /**
   * Client: our hello was made for another replica than the one that answered (or for none), so it could not
   * carry what we hold of that peer's dots (restore evidence, epochs.ts): the session closes and the link
   * should connect again at once, its hello now made for this peer.
   */
  onRehello?: () => void;
  onStatus?: () => void;
  /** Client: the peer (a relay of a cluster) sent cluster news (JSON, untrusted; see cluster-news.ts). */
  onCluster?: (json: string) => void;
  /**
   * Server: the peer's changes in `space` up to its seq `upTo` are stored here, the newest of them at our
   * log seq `localSeq` (a relay counts how many relays hold them once its relay peers acknowledge that seq).
   */
  onStored?: (space: string, upTo: number, localSeq: number, keys?: readonly string[]) => void;
}

/** A token past its expiry ends the session at the next message. */
export function checkGrant(grants: Grants | undefined, now: number): void {
  const exp = grants?.expiresAt;
  if (exp !== undefined && now > exp) throw new ConcordError('UNAUTHORIZED', 'token expired');
}

/**
 * A frame after the peer's hello may be handled: the hello came first, and a server takes no frame that only a server sends
 * (DENIED, GRANT: the rights it gives its client). A relay that took them from a client marked its own replica's space
 * read-only (its puts then threw FORBIDDEN, its reads repaired nothing), logged the client's text for each DENIED, and
 * kept a space state for each space a GRANT named, none of it counted by the token or the relay's cap on spaces.
 */
export function admit(type: MsgType, helloed: boolean, role: SessionOptions['role']): void {
  if (!helloed) throw new ProtocolError('expected hello first');
  if (role === 'server' && (type === MsgType.Denied || type === MsgType.Grant)) throw new ProtocolError(`${type === MsgType.Denied ? 'DENIED' : 'GRANT'} from a client: only a server tells rights`);
}

export function closeFor(e: unknown): [code: number, reason: string] | undefined {
  if (e instanceof ProtocolError) return [CloseCode.PROTOCOL_ERROR, e.message];
  if (!(e instanceof ConcordError)) return undefined;
  if (e.code === 'UNAUTHORIZED') return [CloseCode.UNAUTHORIZED, e.message];
  if (e.code === 'FORBIDDEN') return [CloseCode.FORBIDDEN, e.message];
  if (e.code === 'CLOSED') return [CloseCode.GOING_AWAY, 'replica closed'];
  return undefined;
}

/** A frame decoded by `decode`; anything a decoder throws but a ProtocolError refuses it as malformed. */
export function decoded<T>(decode: () => T): T {
  try {
    return decode();
  } catch (e) {
    throw e instanceof ProtocolError ? e : new ProtocolError('malformed frame');
  }
}

/**
 * Whether a session is synced: no frame it received is still being handled (its join running: inbox.ts), and every
 * space whose item we sent is synced there (space-sync.ts); a space counts once we sent its item, so until the peer's
 * came it is not synced.
 */
export function allSynced(busy: boolean, spaces: Iterable<{ readonly mine?: unknown; readonly theirs?: unknown; readonly synced: boolean }>): boolean {
  if (busy) return false;
  for (const s of spaces) if (s.mine && (!s.theirs || !s.synced)) return false;
  return true;
}
