/**
 * `concord/relay` (Node only): the WebSocket relay server and its tokens.
 *
 *   import { createRelay, createToken } from 'concord/relay';
 *   const relay = await createRelay({ port: 8787, dataDir: './data', secret });
 *   const token = createToken(secret, { spaces: { 'team-42': 'write' }, expiresIn: '1h' });
 */
export { createRelay, type Delivery, type Relay, type RelayOptions } from './relay.js';
export type { MemberEvent, MemberEventType } from './cluster.js';
export { createToken, verifyToken, grantsOf, TOKEN_LEEWAY_SECONDS, type CreateTokenOptions, type TokenClaims, type Secret } from './token.js';
export { parseDuration } from './duration.js';
export type { RateLimit } from './limits.js';
export type { LogEntry, LogOption } from './log.js';
export type { StorageFactory } from './storage.js';
