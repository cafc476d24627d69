/**
 * Relay tokens: `createToken(secret, { spaces, expiresIn })` and `verifyToken(secret, token)`.
 *
 *   token = base64url(JSON { v: 1, spaces: { name-or-pattern: 'read' | 'write' }, iat, exp, sub? }) "." base64url(sig)
 *   sig   = HMAC-SHA256(secret, first part as ASCII)
 *
 * Invariants: the signature is checked (constant time, `timingSafeEqual`) before the payload is parsed or
 * trusted, and only its canonical spelling is accepted (one token has one text); `exp` and `iat` are whole
 * seconds since the epoch; a token is void once `now > exp + LEEWAY` (LEEWAY ≤ 5 s, for clock skew between
 * the issuer and the relay). Space names may use `*` patterns
 * (lib/pattern.ts); the most specific matching entry decides, and 'write' implies 'read'. The token travels
 * in the hello message, never in the URL. Node only (node:crypto).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { ConcordError } from '../../lib/errors.js';
import { lookupPattern, patternTable } from '../../lib/pattern.js';
import type { Grants, Rights } from '../../lib/sync/session.js';
import { parseDuration } from './duration.js';

/** Seconds a token is still honoured past its `exp` (clock skew between issuer and relay). */
export const TOKEN_LEEWAY_SECONDS = 2;
/** Secrets shorter than this are refused: an HMAC is only as strong as its key. */
export const MIN_SECRET_BYTES = 16;
const MAX_TOKEN_CHARS = 8192;

export type Secret = string | Uint8Array;

export interface TokenClaims {
  readonly spaces: Readonly<Record<string, Rights>>;
  /** Issued at, seconds since the epoch. */
  readonly iat: number;
  /** Expires at, seconds since the epoch. */
  readonly exp: number;
  /** A relay of the same cluster (relay-to-relay links, the /cluster endpoint); only relays mint these. */
  readonly relay?: true;
  /**
   * Who the token speaks for (a user id of the app). A relay binds each replicaId to the first principal that
   * says hello with it, so another user cannot speak as that replica (lib/sync/principals.ts); tokens
   * without `sub` all share one principal.
   */
  readonly sub?: string;
}

export interface CreateTokenOptions {
  /** Space name (or `*` pattern) → rights. */
  spaces: Record<string, Rights>;
  /** Lifetime: seconds, or text such as '15m', '1h', '7d'. */
  expiresIn: number | string;
  /** Milliseconds since the epoch (tests). */
  now?: number;
  /** Marks a relay-to-relay token (cluster secret): accepted on /cluster. Relays mint these themselves. */
  relay?: boolean;
  /** The principal (user) the token speaks for, at most 256 characters: see TokenClaims.sub. */
  sub?: string;
}

const MAX_SUB_CHARS = 256;

function checkSub(sub: unknown): asserts sub is string | undefined {
  if (sub !== undefined && (typeof sub !== 'string' || sub === '' || sub.length > MAX_SUB_CHARS)) {
    throw new ConcordError('INVALID_OPTION', `sub must be a non-empty string of at most ${MAX_SUB_CHARS} characters`);
  }
}

function key(secret: Secret): Buffer {
  const k = typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.from(secret);
  if (k.length < MIN_SECRET_BYTES) {
    throw new ConcordError('INVALID_OPTION', `the secret must be at least ${MIN_SECRET_BYTES} bytes long (got ${k.length})`);
  }
  return k;
}

/** Throws ConcordError 'INVALID_OPTION' unless the secret is usable (at least MIN_SECRET_BYTES). */
export function checkSecret(secret: Secret): void {
  key(secret);
}

function sign(secret: Secret, body: string): Buffer {
  return createHmac('sha256', key(secret)).update(body, 'ascii').digest();
}

function checkSpaces(spaces: unknown): asserts spaces is Record<string, Rights> {
  if (!spaces || typeof spaces !== 'object' || Array.isArray(spaces)) {
    throw new ConcordError('INVALID_OPTION', "spaces must be an object such as { 'team-42': 'write' }");
  }
  for (const [name, rights] of Object.entries(spaces)) {
    if (name === '' || (rights !== 'read' && rights !== 'write')) {
      throw new ConcordError('INVALID_OPTION', `space "${name}": rights must be 'read' or 'write'`);
    }
  }
}

export function createToken(secret: Secret, options: CreateTokenOptions): string {
  checkSpaces(options?.spaces);
  checkSub(options.sub);
  const ttl = parseDuration(options.expiresIn, 'expiresIn');
  const iat = Math.floor((options.now ?? Date.now()) / 1000);
  const payload = { v: 1, spaces: { ...options.spaces }, iat, exp: iat + Math.ceil(ttl), ...(options.relay ? { relay: true } : {}), ...(options.sub !== undefined ? { sub: options.sub } : {}) };
  const body = Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
  return `${body}.${sign(secret, body).toString('base64url')}`;
}

function refuse(why: string): never {
  throw new ConcordError('UNAUTHORIZED', why);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The signature part as bytes, or undefined unless it is the one canonical base64url text of 32 bytes: no
 * padding, no other alphabet, no unused trailing bits set (decoders ignore those, so `sig+"="` or a flipped
 * last bit would otherwise verify too — one token, many spellings).
 */
function canonicalSignature(text: string): Buffer | undefined {
  if (text.length !== 43 || !BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  if (bytes.length !== 32 || bytes.toString('base64url') !== text) return undefined;
  return bytes;
}

/**
 * The token's claims; throws ConcordError 'UNAUTHORIZED' when it is missing, malformed, forged or expired.
 * `secret` may list several secrets (rotation: the current one and those still accepted): a token signed
 * by any of them verifies. Every secret is tried, so the time taken does not tell which one matched.
 */
export function verifyToken(secret: Secret | readonly Secret[], token: string, options: { now?: number } = {}): TokenClaims {
  const keys = (Array.isArray(secret) ? (secret as readonly Secret[]) : [secret as Secret]).map(key);
  if (keys.length === 0) throw new ConcordError('INVALID_OPTION', 'verifyToken needs at least one secret');
  if (typeof token !== 'string' || token === '') refuse('missing token');
  if (token.length > MAX_TOKEN_CHARS) refuse('token too long');
  const dot = token.indexOf('.');
  if (dot <= 0 || dot !== token.lastIndexOf('.')) refuse('malformed token');
  const body = token.slice(0, dot);
  if (!BASE64URL.test(body)) refuse('malformed token');
  const given = canonicalSignature(token.slice(dot + 1));
  if (!given) refuse('invalid token signature');
  let valid = false;
  for (const k of keys) {
    const expected = createHmac('sha256', k).update(body, 'ascii').digest();
    if (timingSafeEqual(given, expected)) valid = true;
  }
  if (!valid) refuse('invalid token signature');
  let claims: { v?: unknown; spaces?: unknown; iat?: unknown; exp?: unknown; relay?: unknown; sub?: unknown };
  try {
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return refuse('malformed token payload');
  }
  if (claims?.v !== 1 || typeof claims.exp !== 'number' || typeof claims.iat !== 'number') refuse('malformed token payload');
  try {
    checkSpaces(claims.spaces);
    checkSub(claims.sub);
  } catch {
    refuse('malformed token spaces or sub');
  }
  const now = (options.now ?? Date.now()) / 1000;
  if (now > (claims.exp as number) + TOKEN_LEEWAY_SECONDS) refuse('token expired');
  return {
    spaces: claims.spaces as Record<string, Rights>,
    iat: claims.iat as number,
    exp: claims.exp as number,
    ...(claims.relay === true ? { relay: true as const } : {}),
    ...(typeof claims.sub === 'string' ? { sub: claims.sub } : {}),
  };
}

/** The engine's view of a verified token: rights per space (patterns allowed), the instant it ends, its principal. */
export function grantsOf(claims: TokenClaims): Grants {
  const table = patternTable(claims.spaces);
  return {
    rights: (space) => lookupPattern(table, space),
    expiresAt: (claims.exp + TOKEN_LEEWAY_SECONDS) * 1000,
    writes: Object.values(claims.spaces).includes('write'),
    ...(claims.sub !== undefined ? { principal: claims.sub } : {}),
  };
}

/** Grants for a relay without a secret (loopback only): every space, read and write, no expiry. */
export const OPEN_GRANTS: Grants = { rights: () => 'write' };

/** The token one relay presents to another (cluster secret): every space, read and write, marked `relay`. */
export function clusterToken(secret: Secret, now: number = Date.now()): string {
  return createToken(secret, { spaces: { '*': 'write' }, expiresIn: '1h', relay: true, now });
}
