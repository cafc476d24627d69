/** Membership and failure detection: SWIM for relays, phi accrual for clients, presence in a space. */
export { Swim, type SwimOptions, type SwimEvent, type SwimStats, type MemberInfo } from './swim.js';
export { lanConfig, localConfig, checkConfig, type SwimConfig } from './config.js';
export { suspicionTimeout, retransmitLimit } from './timeouts.js';
export {
  parseMessage,
  defaultLimits,
  type SwimMessage,
  type Outbound,
  type Update,
  type MemberState,
  type MessageLimits,
  type ParseResult,
} from './messages.js';
export { PhiDetector, logErfc, type PhiOptions } from './phi.js';
export { Presence, type PresenceEntry, type PresenceWireEntry, type PresenceEvent, type PresenceOptions } from './presence.js';
