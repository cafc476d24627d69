import { describe, expect, it } from 'vitest';
import { createToken, grantsOf, parseDuration, TOKEN_LEEWAY_SECONDS, verifyToken } from '../../adapters/relay/index.js';
import { isConcordError } from '../../lib/index.js';
import { SECRET } from './support.js';

const code = (fn: () => unknown) => {
  try {
    fn();
    return 'ok';
  } catch (e) {
    return isConcordError(e) ? e.code : String(e);
  }
};

describe('tokens', () => {
  const t0 = Date.UTC(2030, 0, 1);

  it('round-trips its claims and grants rights by space, patterns included', () => {
    const token = createToken(SECRET, { spaces: { 'team-42': 'write', 'team-*': 'read', docs: 'read' }, expiresIn: '1h', now: t0 });
    const claims = verifyToken(SECRET, token, { now: t0 + 1000 });
    expect(claims.exp - claims.iat).toBe(3600);
    const g = grantsOf(claims);
    expect(g.rights('team-42')).toBe('write');
    expect(g.rights('team-7')).toBe('read');
    expect(g.rights('docs')).toBe('read');
    expect(g.rights('other')).toBeUndefined();
    expect(token).not.toMatch(/[+/=]/); // URL-safe, though it never travels in a URL
  });

  it('expires at exp with at most 5 s of leeway', () => {
    const token = createToken(SECRET, { spaces: { a: 'read' }, expiresIn: 60, now: t0 });
    expect(code(() => verifyToken(SECRET, token, { now: t0 + 60_000 }))).toBe('ok');
    expect(TOKEN_LEEWAY_SECONDS).toBeLessThanOrEqual(5);
    expect(code(() => verifyToken(SECRET, token, { now: t0 + 65_001 }))).toBe('UNAUTHORIZED');
    expect(grantsOf(verifyToken(SECRET, token, { now: t0 })).expiresAt).toBeLessThanOrEqual(t0 + 65_000);
  });

  it('refuses forged, tampered, missing and malformed tokens', () => {
    const token = createToken(SECRET, { spaces: { a: 'read' }, expiresIn: 60, now: t0 });
    const [body, sig] = token.split('.') as [string, string];
    const elevated = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(body, 'base64url').toString()), spaces: { a: 'write' } })).toString('base64url');
    const flipped = sig.slice(0, 5) + (sig[5] === 'A' ? 'B' : 'A') + sig.slice(6);
    for (const bad of ['', 'x', 'a.b.c', `${elevated}.${sig}`, `${body}.${flipped}`, `${body}.`, `.${sig}`, createToken('another-secret-of-16+', { spaces: { a: 'write' }, expiresIn: 60, now: t0 })]) {
      expect(code(() => verifyToken(SECRET, bad, { now: t0 }))).toBe('UNAUTHORIZED');
    }
  });

  it('refuses short secrets and bad options', () => {
    expect(code(() => createToken('short', { spaces: { a: 'read' }, expiresIn: 60 }))).toBe('INVALID_OPTION');
    expect(code(() => createToken(SECRET, { spaces: { a: 'admin' as 'read' }, expiresIn: 60 }))).toBe('INVALID_OPTION');
    expect(code(() => createToken(SECRET, { spaces: { a: 'read' }, expiresIn: 0 }))).toBe('INVALID_OPTION');
    expect(parseDuration('15m')).toBe(900);
    expect(parseDuration('7d')).toBe(604_800);
    expect(code(() => parseDuration('soon'))).toBe('INVALID_OPTION');
  });
});
