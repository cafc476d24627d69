// deploy/concord-relay.service passes `systemd-analyze verify` (where systemd's tools are installed), with
// ExecStart pointed at this machine's node and the built command line instead of /opt/concord.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const analyze = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

describe.skipIf(!analyze)('systemd unit', () => {
  it('verifies cleanly, runs the relay command as a dynamic user with a state directory, and stops it with SIGTERM', async () => {
    const unit = await readFile(join(ROOT, 'deploy/concord-relay.service'), 'utf8');
    expect(unit).toMatch(/^DynamicUser=yes$/m);
    expect(unit).toMatch(/^StateDirectory=concord$/m);
    expect(unit).toMatch(/^KillSignal=SIGTERM$/m);
    expect(unit).toMatch(/^ExecStart=\/opt\/concord\/node_modules\/\.bin\/concord relay\b/m);
    const dir = await mkdtemp(join(tmpdir(), 'concord-unit-'));
    try {
      const local = unit.replace(/^ExecStart=\/opt\/concord\/node_modules\/\.bin\/concord /m, `ExecStart=${process.execPath} ${join(ROOT, 'dist/adapters/cli.js')} `);
      const file = join(dir, 'concord-relay.service');
      await writeFile(file, local);
      const out = await promisify(execFile)(analyze!, ['verify', file], { timeout: 30_000 }).then(
        (r) => r.stdout + r.stderr,
        (e: { stdout?: string; stderr?: string }) => `failed: ${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
      // Complaints about other units of the host (not ours) are not this unit's business.
      expect(out.split('\n').filter((l) => l.includes('concord-relay'))).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
