/**
 * The PRESENCE message's JSON, parsed and shaped before the presence state sees it (which trusts nothing in
 * it either: see lib/membership/presence.ts). Anything that is not a presence payload is a protocol error.
 */
import { ProtocolError } from './codec.js';
import type { PresencePayload } from './presence-hub.js';

export function parsePresence(json: string): PresencePayload {
  let payload: unknown;
  try {
    payload = JSON.parse(json);
  } catch {
    throw new ProtocolError('presence is not JSON');
  }
  if (!payload || typeof payload !== 'object' || Array.isArray(payload)) throw new ProtocolError('presence is not an object');
  const p = payload as Record<string, unknown>;
  const d = p.d !== undefined && p.d !== null && typeof p.d === 'object' && !Array.isArray(p.d) ? (p.d as Record<string, number>) : undefined;
  const e = Array.isArray(p.e) ? (p.e as PresencePayload['e']) : undefined;
  return { ...(d ? { d } : {}), ...(e ? { e } : {}), ...(p.r === 1 ? { r: 1 as const } : {}) };
}
