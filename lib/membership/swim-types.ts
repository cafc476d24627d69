/** The public types of SWIM membership (swim.ts): a member's record, events, options and counters. */
import type { SwimConfig } from './config.js';
import type { Update } from './messages.js';

export interface MemberInfo extends Update {
  /** Local time of the last state change (or of learning of the member). */
  since: number;
}

export type SwimEvent =
  | { type: 'joined' | 'suspect' | 'alive' | 'dead' | 'left' | 'updated'; member: MemberInfo; at: number }
  /** We heard ourselves suspected (or declared dead) and refuted it with a higher incarnation. */
  | { type: 'refuted'; incarnation: number; at: number }
  /** An inbound message failed validation and was ignored. */
  | { type: 'malformed'; from: string; reason: string; at: number };

export interface SwimOptions {
  self: { id: string; address: string };
  config?: SwimConfig;
  /** Uniform in [0, 1): e.g. `prng(seed)` from check-merge.ts, or Math.random in production. */
  random: () => number;
  /** Start above a previous life's incarnation if the driver persisted it (default 0). */
  incarnation?: number;
  /** Members known beforehand (a previous run's list, a static config): taken as alive, not gossiped. */
  members?: ReadonlyArray<{ id: string; address: string; incarnation?: number }>;
  /**
   * Which member addresses the transport can use (the relay: ws:// and wss:// URLs only); a message naming
   * any other address is malformed and ignored as a whole. Default: any bounded string.
   */
  validAddress?: (address: string) => boolean;
}

export interface SwimStats {
  malformed: number;
  /** Pings addressed to another member id than ours (an address now used by someone else). */
  misdirected: number;
  /** Updates waiting in the piggyback queue. */
  queued: number;
}
