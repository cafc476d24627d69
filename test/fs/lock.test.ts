// One writer per directory: a second open (this process or another live one) gets 'LOCKED' naming the
// holder's pid; a lock left by a killed process is taken over.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { privateBuild, tempDir } from './helpers.js';

const child = join(import.meta.dirname, 'fixtures', 'child.mjs');
let build: { lib: string; fs: string; dir: string };
let cleanups: Array<() => Promise<void>> = [];

beforeAll(() => {
  build = privateBuild('lock');
}, 60_000);
afterAll(async () => {
  await rm(build.dir, { recursive: true, force: true });
});
afterEach(async () => {
  for (const c of cleanups) await c();
  cleanups = [];
});

async function newDir(): Promise<string> {
  const { dir, cleanup } = await tempDir('lock');
  cleanups.push(cleanup);
  return dir;
}

/** Starts a child that opens the directory; resolves with its first line ("ready <pid>" or "error …"). */
function startChild(mode: 'hold' | 'write', dir: string): Promise<{ p: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [child, build.lib, build.fs, mode, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    p.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve({ p, line: buf.slice(0, nl) });
    });
    p.on('error', reject);
    p.on('exit', (code) => {
      if (!buf.includes('\n')) reject(new Error(`child exited (${code}) before reporting`));
    });
  });
}

function killed(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.on('exit', () => resolve());
    p.kill('SIGKILL');
  });
}

describe('lock', () => {
  it("a second open in the same process gets 'LOCKED'", async () => {
    const dir = await newDir();
    const a = fileStorage(dir);
    await a.open();
    await expect(fileStorage(dir).open()).rejects.toMatchObject({ name: 'ConcordError', code: 'LOCKED' });
    await a.close();
    const b = fileStorage(dir); // released on close
    await b.open();
    await b.close();
  });

  it("another live process holding the directory gives 'LOCKED' naming its pid; once it is killed, the lock is taken over", async () => {
    const dir = await newDir();
    const { p, line } = await startChild('hold', dir);
    try {
      expect(line).toMatch(/^ready \d+$/);
      const err = await fileStorage(dir).open().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toMatchObject({ name: 'ConcordError', code: 'LOCKED' });
      expect((err as Error).message).toContain(`process ${p.pid}`);
    } finally {
      await killed(p);
    }
    const s = fileStorage(dir);
    await s.open(); // the holder is dead: stale lock taken over
    await s.transact((tx) => tx.setMeta('x', 1));
    await s.close();
  });

  it("a child process cannot open what this process holds: 'LOCKED' with this pid", async () => {
    const dir = await newDir();
    const s = fileStorage(dir);
    await s.open();
    try {
      const { p, line } = await startChild('hold', dir);
      await killed(p);
      expect(line).toMatch(/^error LOCKED /);
      expect(line).toContain(`process ${process.pid}`);
    } finally {
      await s.close();
    }
  });

  it('takes over a lock whose pid no longer runs, or that names this pid without this process holding it', async () => {
    const dir = await newDir();
    const { p } = await startChild('hold', dir);
    const deadPid = p.pid!;
    await killed(p);
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: deadPid, host: hostname(), token: 'old' }));
    const s = fileStorage(dir);
    await s.open();
    expect(JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')).pid).toBe(process.pid);
    await s.close();
    // a restarted container reuses pids: a lock naming this pid that this process does not hold is stale
    await writeFile(join(dir, 'LOCK'), JSON.stringify({ pid: process.pid, host: hostname(), token: 'previous-incarnation' }));
    const t = fileStorage(dir);
    await t.open();
    await t.close();
  });
});
