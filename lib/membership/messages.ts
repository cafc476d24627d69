/**
 * SWIM wire messages: plain JSON-able objects (the driver encodes them), and their validation.
 *
 *   ping       src → target: "are you there?"; answered by an ack carrying the same seq
 *   ping-req   src → helper: "ping `target` at `address` for me"; the helper forwards the target's ack
 *   ack        answer to a ping (direct or forwarded), matched by seq only
 *   gossip     updates only, no answer (a leaving member spreads its departure with it)
 *   push-pull  full membership state; `reply: false` asks for the receiver's state back
 *
 * Every message but push-pull piggybacks up to `maxUpdates` membership updates. Inbound messages are
 * untrusted: `parseMessage` checks every field's type and bound (ids, addresses, counts, integers) and
 * returns a reason instead of throwing, so a malformed frame is dropped and counted, never half-applied.
 * Ids are looked up in Maps only, so '__proto__' and friends are ordinary ids.
 */

export type MemberState = 'alive' | 'suspect' | 'dead' | 'left';

/** One member's state as gossiped: the unit of every membership change. */
export interface Update {
  id: string;
  address: string;
  incarnation: number;
  state: MemberState;
}

export interface PingMessage {
  type: 'ping';
  seq: number;
  src: string;
  /** The member the sender means to reach; a different member now at that address ignores the ping. */
  target: string;
  updates: Update[];
}

export interface PingReqMessage {
  type: 'ping-req';
  seq: number;
  src: string;
  target: string;
  address: string;
  updates: Update[];
}

export interface AckMessage {
  type: 'ack';
  seq: number;
  src: string;
  updates: Update[];
}

export interface GossipMessage {
  type: 'gossip';
  src: string;
  updates: Update[];
}

export interface PushPullMessage {
  type: 'push-pull';
  src: string;
  /** Sent by a joining member to its seed: the answer is not re-gossiped (it is old news to everyone else). */
  join: boolean;
  /** true on the answer, which is not answered again. */
  reply: boolean;
  members: Update[];
}

export type SwimMessage = PingMessage | PingReqMessage | AckMessage | GossipMessage | PushPullMessage;

/** A message to send: the driver delivers `message` to the member listening at `to` (best effort). */
export interface Outbound {
  to: string;
  message: SwimMessage;
}

export interface MessageLimits {
  maxIdLength: number;
  maxAddressLength: number;
  /** Most piggybacked updates accepted in one ping, ping-req, ack or gossip. */
  maxUpdates: number;
  /** Most members accepted in one push-pull. */
  maxMembers: number;
}

export const defaultLimits: MessageLimits = { maxIdLength: 128, maxAddressLength: 512, maxUpdates: 64, maxMembers: 10_000 };

export type ParseResult = { ok: true; message: SwimMessage } | { ok: false; reason: string };

const STATES: ReadonlySet<string> = new Set(['alive', 'suspect', 'dead', 'left']);

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

function isBoundedString(x: unknown, max: number): x is string {
  return typeof x === 'string' && x.length > 0 && x.length <= max;
}

function parseUpdates(x: unknown, max: number, limits: MessageLimits, validAddress?: (a: string) => boolean): Update[] | string {
  if (!Array.isArray(x)) return 'updates is not an array';
  if (x.length > max) return `too many updates (${x.length} > ${max})`;
  const out: Update[] = [];
  for (const u of x) {
    if (!isRecord(u)) return 'update is not an object';
    if (!isBoundedString(u.id, limits.maxIdLength)) return 'update id is not a bounded string';
    if (!isBoundedString(u.address, limits.maxAddressLength)) return 'update address is not a bounded string';
    if (validAddress && !validAddress(u.address)) return 'update address is not a valid member address';
    if (!isCount(u.incarnation)) return 'update incarnation is not a non-negative integer';
    if (typeof u.state !== 'string' || !STATES.has(u.state)) return 'update state is unknown';
    out.push({ id: u.id, address: u.address, incarnation: u.incarnation, state: u.state as MemberState });
  }
  return out;
}

/**
 * Validates an inbound message; copies only the known fields, so extra fields never travel further.
 * `validAddress` (optional) vets every member address the message names.
 */
export function parseMessage(x: unknown, limits: MessageLimits = defaultLimits, validAddress?: (address: string) => boolean): ParseResult {
  const bad = (reason: string): ParseResult => ({ ok: false, reason });
  if (!isRecord(x)) return bad('message is not an object');
  if (!isBoundedString(x.src, limits.maxIdLength)) return bad('src is not a bounded string');
  const src = x.src;
  switch (x.type) {
    case 'ping':
    case 'ping-req':
    case 'ack': {
      if (!isCount(x.seq)) return bad('seq is not a non-negative integer');
      const updates = parseUpdates(x.updates, limits.maxUpdates, limits, validAddress);
      if (typeof updates === 'string') return bad(updates);
      if (x.type === 'ack') return { ok: true, message: { type: 'ack', seq: x.seq, src, updates } };
      if (!isBoundedString(x.target, limits.maxIdLength)) return bad('target is not a bounded string');
      if (x.type === 'ping') return { ok: true, message: { type: 'ping', seq: x.seq, src, target: x.target, updates } };
      if (!isBoundedString(x.address, limits.maxAddressLength)) return bad('address is not a bounded string');
      if (validAddress && !validAddress(x.address)) return bad('address is not a valid member address');
      return { ok: true, message: { type: 'ping-req', seq: x.seq, src, target: x.target, address: x.address, updates } };
    }
    case 'gossip': {
      const updates = parseUpdates(x.updates, limits.maxUpdates, limits, validAddress);
      if (typeof updates === 'string') return bad(updates);
      return { ok: true, message: { type: 'gossip', src, updates } };
    }
    case 'push-pull': {
      if (typeof x.join !== 'boolean' || typeof x.reply !== 'boolean') return bad('join/reply are not booleans');
      const members = parseUpdates(x.members, limits.maxMembers, limits, validAddress);
      if (typeof members === 'string') return bad(members);
      return { ok: true, message: { type: 'push-pull', src, join: x.join, reply: x.reply, members } };
    }
    default:
      return bad('unknown message type');
  }
}
