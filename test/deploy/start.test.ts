// `npm start` as a process tree: SIGTERM sent to npm (what a container runtime or a supervisor does) must
// reach the relay, which shuts down cleanly and frees the data directory's lock. With a start script that
// leaves a shell between npm and node, the shell dies and the relay is orphaned, still holding the lock.
// Runs the built command line (dist/, built by `npm ci`), on port 0 and a temp data directory.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { openReplica } from '../../lib/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
let relayPid: number | undefined;
let dir: string | undefined;

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

afterAll(async () => {
  if (relayPid && alive(relayPid)) process.kill(relayPid, 'SIGKILL'); // an orphan left by a broken start script
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('npm start', () => {
  it('passes SIGTERM to the relay: it shuts down, the process tree exits, the data lock is freed', { timeout: 60_000 }, async () => {
    dir = await mkdtemp(join(tmpdir(), 'concord-start-'));
    const npm: ChildProcess = spawn('npm', ['start', '--', '--port', '0', '--data', dir], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
    const lines: string[] = [];
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => npm.once('exit', (code, signal) => r({ code, signal })));
    const output = createInterface({ input: npm.stdout! });
    const outputClosed = new Promise<void>((r) => output.once('close', r));
    const listening = new Promise<void>((ok, fail) => {
      output.on('line', (line) => {
        lines.push(line);
        if (line.includes('"relay listening"')) ok();
      });
      void exited.then(() => fail(new Error(`npm start exited before the relay listened:\n${lines.join('\n')}`)));
      setTimeout(() => fail(new Error(`no "relay listening" within 30 s:\n${lines.join('\n')}`)), 30_000).unref();
    });
    await listening;
    const lock = JSON.parse(await readFile(join(dir, 'LOCK'), 'utf8')) as { pid: number };
    relayPid = lock.pid;
    expect(relayPid).not.toBe(npm.pid);
    expect(alive(relayPid)).toBe(true);

    npm.kill('SIGTERM');
    const bounded = await Promise.race([exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref())]);
    expect(bounded).not.toBe('timeout');
    // The relay itself got the signal and closed (not killed, not orphaned).
    for (let i = 0; i < 50 && alive(relayPid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(alive(relayPid), `relay ${relayPid} still running after npm exited`).toBe(false);
    // Every process holding the output pipe is gone once it closes; then the log is complete.
    await Promise.race([outputClosed, new Promise((r) => setTimeout(r, 5_000).unref())]);
    expect(lines.some((l) => l.includes('"shutting down"') && l.includes('SIGTERM')), lines.join("\n")).toBe(true);
    // The data directory opens again at once: the lock was released, not merely left to a dead process.
    const replica = await openReplica({ storage: fileStorage(dir) });
    await replica.close();
  });
});
