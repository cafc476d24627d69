/**
 * Secrets of a relay and their rotation. A relay holds two rings: the client secret(s), which verify the
 * tokens apps mint for their users, and the cluster secret(s), which sign and verify relay-to-relay tokens.
 * Keeping them apart means whoever can mint client tokens (an app backend) cannot act as a relay.
 *
 * A ring is one secret, or a list: the first is current (it signs), the others are previous ones, still
 * accepted for `grace` ms after the relay started, then refused (rotation without a flag day: tokens minted
 * with the old secret keep working until they expire or the grace ends). Secrets are at least 16 bytes
 * (token.ts), and no secret may be in both rings.
 *
 * Reading secrets from files (`--secret-file`) keeps them out of `ps` and shell history: one secret per
 * line, the current one first; blank lines and lines starting with `#` are ignored.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConcordError } from '../../lib/errors.js';
import { checkSecret, type Secret } from './token.js';

export interface SecretRing {
  /** The secret that signs (the first given). */
  readonly current: Secret;
  /** The secrets a token may be signed with at `now` (ms). */
  accepted(now: number): Secret[];
  /** Whether previous secrets are still accepted at `now`. */
  inGrace(now: number): boolean;
}

export const DEFAULT_SECRET_GRACE_MS = 24 * 3600 * 1000;

const bytesOf = (s: Secret): Buffer => (typeof s === 'string' ? Buffer.from(s, 'utf8') : Buffer.from(s));

export function secretRing(option: Secret | readonly Secret[], what: string, startedAt: number, graceMs: number): SecretRing {
  const list = (Array.isArray(option) ? [...(option as readonly Secret[])] : [option as Secret]).filter((s) => s !== undefined);
  if (list.length === 0) throw new ConcordError('INVALID_OPTION', `${what}: give at least one secret`);
  for (const s of list) {
    try {
      checkSecret(s);
    } catch (e) {
      throw new ConcordError('INVALID_OPTION', `${what}: ${(e as Error).message}`);
    }
  }
  const current = list[0]!;
  const previous = list.slice(1);
  const until = startedAt + graceMs;
  return {
    current,
    accepted: (now) => (previous.length > 0 && now <= until ? list : [current]),
    inGrace: (now) => previous.length > 0 && now <= until,
  };
}

/**
 * The cluster secrets a relay uses when none is configured: each client secret's HMAC under a fixed label.
 * A client token never verifies as a relay token (different key), but whoever holds the client secret can
 * derive these: a deployment that hands the client secret to a token service should set its own cluster
 * secret (the relay logs so when it clusters on derived secrets).
 */
export function derivedClusterSecrets(client: Secret | readonly Secret[]): Uint8Array[] {
  const list = Array.isArray(client) ? (client as readonly Secret[]) : [client as Secret];
  return list.map((s) => new Uint8Array(createHmac('sha256', bytesOf(s)).update('concord relay-to-relay tokens v1').digest()));
}

/** Throws when the two lists share a secret (a client token must never verify as a relay token). */
export function checkDisjoint(client: Secret | readonly Secret[], cluster: Secret | readonly Secret[]): void {
  const a = (Array.isArray(client) ? (client as readonly Secret[]) : [client as Secret]).map((s) => bytesOf(s).toString('hex'));
  const b = (Array.isArray(cluster) ? (cluster as readonly Secret[]) : [cluster as Secret]).map((s) => bytesOf(s).toString('hex'));
  if (a.some((x) => b.includes(x))) {
    throw new ConcordError('INVALID_OPTION', 'the cluster secret must differ from the client secret: whoever mints client tokens must not be able to act as a relay');
  }
}

/** Secrets from a file: one per line, the current one first (blank lines and `#` comments ignored). */
export function readSecretFile(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConcordError('INVALID_OPTION', `cannot read the secret file ${path}: ${(e as Error).message}`);
  }
  const secrets = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  if (secrets.length === 0) throw new ConcordError('INVALID_OPTION', `the secret file ${path} holds no secret`);
  return secrets;
}
