/**
 * The state a session keeps: what the peer may do (grants), the session's options, and per space the two
 * sync items, the cursor into the peer's log, the outgoing stream's counters and an anti-entropy run.
 */
import type { AeItem, Entry, SyncItem } from './messages.js';

export type Rights = 'read' | 'write';

export interface Grants {
  /** Rights per space; a function for patterns. */
  rights(space: string): Rights | undefined;
  /** Milliseconds since the epoch after which the grant is void (checked on every message). */
  expiresAt?: number;
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
  maxFrameBytes: number;
  maxValueBytes: number;
  now: () => number;
  onPeer?: (peerId: string) => void;
  onStatus?: () => void;
  /** Client: the peer (a relay of a cluster) sent cluster news (JSON, untrusted; see cluster-news.ts). */
  onCluster?: (json: string) => void;
  /**
   * Server: the peer's changes in `space` up to its seq `upTo` are stored here, the newest of them at our
   * log seq `localSeq` (a relay counts how many relays hold them once its relay peers acknowledge that seq).
   */
  onStored?: (space: string, upTo: number, localSeq: number) => void;
}


export interface Outgoing {
  ready: boolean;
  /** Log seq read up to (frames sent or echoes skipped). */
  sent: number;
  /** Highest upTo carried by a frame (the peer's cursor once acknowledged). */
  announced: number;
  /** Live changes waiting for this tick's frame: entry, seq, entry, seq, … */
  live: Array<Entry | number>;
  acked: number;
  inflight: number;
  pumping: boolean;
  again: boolean;
}

export interface AeStats {
  turns: number;
  bytes: number;
  keysSent: number;
  keysReceived: number;
  keysRepaired: number;
}

export const newStats = (): AeStats => ({ turns: 0, bytes: 0, keysSent: 0, keysReceived: 0, keysRepaired: 0 });

export interface SpaceState {
  readonly name: string;
  mine?: SyncItem;
  theirs?: SyncItem;
  /** The cursor I hold into the peer's log. */
  cursor: { e: string; s: number };
  out: Outgoing;
  caughtUp: boolean;
  ae?: { run: number; initiator: boolean; myTop: number; peerTop: number; establishing: boolean; stats: AeStats };
  /** Frames of an anti-entropy turn gathered so far (a turn split under the frame limit). */
  aeParts?: { run: number; top: number; items: AeItem[]; want: string[] };
  rights?: Rights;
}
