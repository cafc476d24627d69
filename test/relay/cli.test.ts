import { describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../adapters/cli.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRelay, verifyToken } from '../../adapters/relay/index.js';
import { SECRET } from './support.js';

function io(env: Record<string, string | undefined> = {}): CliIo & { stdout: string; stderr: string } {
  const o = {
    stdout: '',
    stderr: '',
    env,
    out: (t: string) => void (o.stdout += t),
    err: (t: string) => void (o.stderr += t),
  };
  return o;
}

describe('concord command line', () => {
  it('--help explains the commands, options, environment and endpoints', async () => {
    const o = io();
    expect(await main(['--help'], o)).toBe(0);
    for (const word of ['relay', 'token', '--port', '--host', '--data', '--secret', '--secret-file', '--cluster-secret-file', '--secret-grace', '--allowed-host', '--status', '--trust-proxy', 'SECURITY.md', '--origin', '--join', '--write', '--read', '--ttl', 'PORT', 'HOST', 'DATA_DIR', 'CONCORD_SECRET', '/livez', '/readyz', '/metrics', 'SIGTERM', '4401']) {
      expect(o.stdout).toContain(word);
    }
  });

  it('prints a token for several spaces, with the secret from the environment', async () => {
    const o = io({ CONCORD_SECRET: SECRET });
    expect(await main(['token', '--space', 'team-42', '--space', 'docs-*', '--write', '--ttl', '15m'], o)).toBe(0);
    const claims = verifyToken(SECRET, o.stdout.trim());
    expect(claims.spaces).toEqual({ 'team-42': 'write', 'docs-*': 'write' });
    expect(claims.exp - claims.iat).toBe(900);
    const r = io();
    expect(await main(['token', '--space', 'a', '--read', '--secret', SECRET], r)).toBe(0);
    expect(verifyToken(SECRET, r.stdout.trim()).spaces).toEqual({ a: 'read' });
  });

  it('reports usage errors with exit code 2 and refused configurations with 1', async () => {
    const noSecret = io();
    expect(await main(['token', '--space', 'a'], noSecret)).toBe(2);
    expect(noSecret.stderr).toMatch(/CONCORD_SECRET/);
    expect(await main(['token', '--secret', SECRET], io())).toBe(2);
    expect(await main(['relay', '--bogus'], io())).toBe(2);
    expect(await main(['frobnicate'], io())).toBe(2);
    const open = io();
    expect(await main(['relay', '--host', '0.0.0.0', '--port', '0', '--quiet'], open)).toBe(1);
    expect(open.stderr).toMatch(/secret/);
    const restoredInMemory = io();
    expect(await main(['relay', '--restored', '--port', '0', '--quiet'], restoredInMemory)).toBe(2);
    expect(restoredInMemory.stderr).toMatch(/--restored needs --data/);
  });

  it('a relay opens its data directory under a new replica id at every start (restored or not), keeping its data', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'concord-cli-restored-'));
    try {
      const first = await createRelay({ port: 0, host: '127.0.0.1', dataDir, log: false });
      await first.replica.space('s').put('k', 'kept');
      const oldId = first.replica.replicaId;
      await first.close();
      const again = await createRelay({ port: 0, host: '127.0.0.1', dataDir, log: false });
      // The directory may be a restored copy: nothing the relay writes now may take an id its lost writes used.
      expect(again.replica.replicaId, 'a restart takes a new id').not.toBe(oldId);
      expect((await again.replica.space('s').get('k'))?.value).toBe('kept');
      await again.close();
      const lines: string[] = [];
      const restored = await createRelay({ port: 0, host: '127.0.0.1', dataDir, restored: true, log: (e) => void lines.push(JSON.stringify(e)) });
      expect(restored.replica.replicaId).not.toBe(oldId);
      expect((await restored.replica.space('s').get('k'))?.value).toBe('kept');
      expect(lines.join('\n')).toContain(restored.replica.replicaId);
      await restored.close();
    } finally {
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
