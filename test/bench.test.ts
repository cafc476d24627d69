// Smoke test of the benchmark harness: `node bench/run.mjs --quick S3` prints a table and writes JSON with
// numeric figures. It never looks at timings or ratios (those are the benchmark's business, not a test's).
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

function runBench(args: string[]): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['bench/run.mjs', ...args], { cwd: root, timeout: 55_000, env: { ...process.env, BENCH_SILENT: '1' } }, (err, stdout, stderr) => {
      if (err) reject(Object.assign(err, { stdout, stderr }));
      else resolve({ stdout, stderr });
    });
  });
}

const isNumberOrNull = (v: unknown): boolean => v === null || (typeof v === 'number' && Number.isFinite(v));

describe('bench harness', () => {
  it('runs S3 quickly, prints a table and writes JSON with numeric figures', { timeout: 60_000 }, async () => {
    const out = await mkdtemp(path.join(os.tmpdir(), 'concord-bench-'));
    try {
      const { stdout } = await runBench(['--quick', 'S3', '--out', out]);
      expect(stdout).toMatch(/^S3 — /m);
      expect(stdout).toMatch(/concord vs yjs/);
      expect(stdout).toMatch(/writes\/s/);

      const files = (await readdir(out)).filter((f) => /-S3-quick\.json$/.test(f));
      expect(files).toHaveLength(1);
      const result = JSON.parse(await readFile(path.join(out, files[0]!), 'utf8'));
      expect(result.id).toBe('S3');
      expect(typeof result.env.node).toBe('string');
      expect(typeof result.env.cpu).toBe('string');
      expect(typeof result.env.date).toBe('string');
      expect(result.rows.length).toBeGreaterThan(0);
      for (const row of result.rows) {
        expect(typeof row.case).toBe('string');
        expect(typeof row.concord).toBe('number');
        expect(Number.isFinite(row.concord)).toBe(true);
        for (const peer of ['yjs', 'automerge', 'tinybase']) {
          expect(isNumberOrNull(row.peers[peer])).toBe(true);
          expect(isNumberOrNull(row.ratios[peer])).toBe(true);
        }
      }
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});
