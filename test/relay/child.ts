/** The relay as a child process running the built command line (`concord relay`), for crash tests. */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const ROOT = resolve(import.meta.dirname, '../..');

/** Compiles lib/ and adapters/ into a fresh directory under node_modules/.cache (so packages resolve). */
export async function buildCli(): Promise<{ cli: string; cleanup: () => Promise<void> }> {
  await mkdir(join(ROOT, 'node_modules', '.cache'), { recursive: true });
  const out = await mkdtemp(join(ROOT, 'node_modules', '.cache', 'concord-relay-test-'));
  await promisify(execFile)(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', out, '--declaration', 'false', '--sourceMap', 'false'], { cwd: ROOT });
  return { cli: join(out, 'adapters', 'cli.js'), cleanup: () => rm(out, { recursive: true, force: true }) };
}

export interface RelayProcess {
  child: ChildProcess;
  port: number;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Log lines seen so far. */
  lines: string[];
}

export async function spawnRelay(cli: string, args: string[], nodeArgs: string[] = []): Promise<RelayProcess> {
  const child = spawn(process.execPath, [...nodeArgs, cli, 'relay', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const port = await new Promise<number>((resolvePort, reject) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      lines.push(line);
      try {
        const e = JSON.parse(line) as { msg?: string; port?: number };
        if (e.msg === 'relay listening' && e.port) resolvePort(e.port);
      } catch {
        // not a log line
      }
    });
    void exited.then((x) => reject(new Error(`relay exited before listening (${x.code ?? x.signal}): ${stderr}`)));
  });
  return { child, port, exited, lines };
}
