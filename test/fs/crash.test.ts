// Crash safety with real processes: a child writes as fast as it can through openReplica({ storage:
// fileStorage(dir) }) and is SIGKILLed at a random moment; the directory is reopened and every put the
// child saw resolve must be there (or a later write of that key), nothing corrupted. The runs share one
// directory, so each run also recovers what the previous crashes left. Seeded: CRASH_SEED=<n> replays.
import { spawn } from 'node:child_process';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { openReplica } from '../../lib/index.js';
import { privateBuild, prng, tempDir } from './helpers.js';

const RUNS = 20;
const child = join(import.meta.dirname, 'fixtures', 'child.mjs');
let build: { lib: string; fs: string; dir: string };

beforeAll(() => {
  build = privateBuild('crash');
}, 60_000);
afterAll(async () => {
  await rm(build.dir, { recursive: true, force: true });
});

/** Runs the writer until `killAfterMs` after it is ready, SIGKILLs it; returns the acknowledged writes. */
function runAndKill(dir: string, start: number, killAfterMs: number): Promise<Array<[number, string]>> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, build.lib, build.fs, 'write', dir, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    const acked: Array<[number, string]> = [];
    let buf = '';
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    p.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith('ready')) setTimeout(() => p.kill('SIGKILL'), killAfterMs);
        else if (line.startsWith('ok ')) {
          const [, n, key] = line.split(' ');
          acked.push([Number(n), key!]);
        } else if (line.startsWith('error')) reject(new Error(`child failed to open: ${line}\n${stderr}`));
      }
    });
    p.on('exit', (_code, signal) => {
      if (signal === 'SIGKILL') resolve(acked);
      else reject(new Error(`child exited without being killed (${_code}): ${stderr}`));
    });
  });
}

describe('crash safety (SIGKILL during writes)', () => {
  it(`keeps every acknowledged put across ${RUNS} kills`, async () => {
    const seed = process.env.CRASH_SEED ? Number(process.env.CRASH_SEED) : Date.now() % 1_000_000;
    const random = prng(seed);
    const { dir, cleanup } = await tempDir('crash');
    const latest = new Map<string, number>(); // key → highest acknowledged n
    let total = 0;
    try {
      for (let run = 0; run < RUNS; run++) {
        const killAfter = Math.floor(random() * 300);
        const acked = await runAndKill(dir, run * 1_000_000, killAfter);
        total += acked.length;
        if (process.env.CRASH_DEBUG) console.log(`run ${run}: killed after ${killAfter} ms, ${acked.length} acked, ${latest.size} keys, files: ${(await readdir(dir)).join(" ")}`);
        for (const [n, key] of acked) latest.set(key, Math.max(latest.get(key) ?? -1, n));
        const replica = await openReplica({ storage: fileStorage(dir) }).catch((e: unknown) => {
          throw new Error(`seed ${seed}, run ${run} (killed after ${killAfter} ms): reopening failed: ${String(e)}`);
        });
        try {
          const space = replica.space('crash');
          for (const [key, n] of latest) {
            const got = await space.get<{ n: number }>(key);
            if (!got || got.value.n < n || got.conflict) {
              throw new Error(`seed ${seed}, run ${run} (killed after ${killAfter} ms): ${key} acknowledged at n=${n}, found ${JSON.stringify(got?.value)}`);
            }
          }
        } finally {
          await replica.close();
        }
      }
    } finally {
      await cleanup();
    }
    expect(total).toBeGreaterThan(0);
  }, 90_000);
});
