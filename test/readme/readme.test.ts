// Every example in README.md runs as written. `js`/`ts` blocks: compiled by esbuild (types stripped, nothing
// else) and run with node from a directory inside the repository, so `import 'concord'` resolves to the
// package itself (its dist/, built by `npm ci`); a block that connects to ws://127.0.0.1:8787 gets a relay
// there (the port is the only substitution). `sh` blocks: each command runs (relays on free loopback ports,
// `--host 0.0.0.0` moved to loopback, `CONCORD_SECRET=...` given a value), except the long ones CI runs itself.
// `tsx` blocks run in Chromium (test/browser/readme-react.test.ts).
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { transform } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { freePort, readmeBlocks, ROOT, type Block } from './blocks.js';

const run = promisify(execFile);
const blocks = readmeBlocks();
const SECRET = 'readme-test-secret-0123456789';
let dir: string;

beforeAll(async () => {
  await mkdir(join(ROOT, 'test-results'), { recursive: true });
  dir = await mkdtemp(join(ROOT, 'test-results', 'readme-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('README.md', () => {
  it('has examples only in languages these tests run, and no link outside the repository tree', async () => {
    expect(blocks.length).toBeGreaterThan(5);
    expect(blocks.filter((b) => !['sh', 'js', 'ts', 'tsx'].includes(b.lang)).map((b) => `line ${b.line}: ${b.lang || '(none)'}`)).toEqual([]);
    const text = await readFile(join(ROOT, 'README.md'), 'utf8');
    expect(text).not.toMatch(/\.\.\/shared|\]\(\.\.\//);
    for (const [, target] of text.matchAll(/\]\(((?!https?:)[^)#]+)\)/g)) {
      await expect(readFile(join(ROOT, target!)), `README links to ${target}`).resolves.toBeDefined();
    }
  });

  it('keeps its two commands true: .ci/run is npm ci then npm test, and npm start runs the relay', async () => {
    const first = blocks.find((b) => b.lang === 'sh')!;
    expect(first.code).toMatch(/^npm ci && npm start\b/m);
    expect(first.code).toMatch(/^npm ci && npm test\b/m);
    const ci = await readFile(join(ROOT, '.ci/run'), 'utf8');
    expect(ci).toMatch(/^npm ci\b.*\nnpm test$/m);
    const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts.start).toMatch(/cli\.js relay/); // its process behaviour: test/deploy/start.test.ts
    expect(pkg.scripts.soak).toBeDefined();
  });

  for (const block of blocks.filter((b) => b.lang === 'js' || b.lang === 'ts')) {
    it(`runs the ${block.lang} example at line ${block.line}`, { timeout: 60_000 }, async () => {
      let relay: Relay | undefined;
      let code = block.code;
      if (code.includes('ws://127.0.0.1:8787')) {
        relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
        code = code.replaceAll('ws://127.0.0.1:8787', `ws://127.0.0.1:${relay.port}`);
      }
      try {
        const js = (await transform(code, { loader: block.lang as 'js' | 'ts', format: 'esm', target: 'node20' })).code;
        const cwd = await mkdtemp(join(dir, `line-${block.line}-`));
        await writeFile(join(cwd, 'example.mjs'), js);
        const result = await run(process.execPath, ['example.mjs'], { cwd, timeout: 50_000 }).catch((e: { code?: number; stderr?: string; stdout?: string }) => e);
        expect((result as { code?: number }).code ?? 0, `line ${block.line}: ${(result as { stderr?: string }).stderr}`).toBe(0);
      } finally {
        await relay?.close();
      }
    });
  }

  for (const block of blocks.filter((b) => b.lang === 'sh')) {
    it(`runs the commands at line ${block.line}`, { timeout: 120_000 }, async () => {
      const ports = new Map<string, number>();
      const portFor = async (p: string) => ports.get(p) ?? (ports.set(p, await freePort()), ports.get(p)!);
      const relays: ChildProcess[] = [];
      const cwd = await mkdtemp(join(dir, `sh-${block.line}-`));
      try {
        for (const raw of block.code.split('\n')) {
          const line = raw.replace(/\s+#\s.*$/, '').trim();
          if (!line) continue;
          if (/^npm ci && npm (start|test)$/.test(line) || /^npm run soak$/.test(line)) continue; // CI's own commands, and the process test of npm start
          let cmd = line.replaceAll('CONCORD_SECRET=...', `CONCORD_SECRET=${SECRET}`).replaceAll('--host 0.0.0.0', '--host 127.0.0.1');
          for (const p of ['8787', '8788']) if (cmd.includes(p)) cmd = cmd.replaceAll(p, String(await portFor(p)));
          if (/\bconcord relay\b/.test(cmd)) {
            // Relay lines are alternatives unless one joins the other: stop the previous one first.
            if (!/--join/.test(cmd)) for (const r of relays.splice(0).reverse()) await stop(r);
            if (!/--port/.test(cmd)) cmd += ` --port ${await freePort()}`;
            relays.push(await startRelay(cmd, cwd));
          } else if (/^openssl rand -hex \d+ > [\w.-]+$/.test(cmd)) {
            await run('sh', ['-c', cmd], { cwd, timeout: 10_000 }); // a secret file for the lines after it
          } else if (/^npm run example$|\bconcord (token|--help)\b/.test(cmd)) {
            const { stdout } = await run('sh', ['-c', cmd], { cwd: /example/.test(cmd) ? ROOT : cwd, timeout: 60_000 });
            if (/concord token/.test(cmd)) expect(stdout.trim()).toMatch(/^[\w-]+\.[\w-]+$/);
            else expect(stdout.length).toBeGreaterThan(0);
          } else {
            throw new Error(`README line "${line}" (block at line ${block.line}) is a command this test does not know how to run: teach it`);
          }
        }
      } finally {
        for (const r of relays.reverse()) await stop(r);
      }
    });
  }
});

/** Runs a relay command line in its own process group; resolves once it listens. */
async function startRelay(cmd: string, cwd: string): Promise<ChildProcess> {
  const child = spawn('sh', ['-c', cmd], { cwd, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  await new Promise<void>((ok, fail) => {
    createInterface({ input: child.stdout! }).on('line', (l) => l.includes('"relay listening"') && ok());
    child.once('exit', (code) => fail(new Error(`"${cmd}" exited (${code}) before listening: ${stderr}`)));
    setTimeout(() => fail(new Error(`"${cmd}" did not listen within 30 s: ${stderr}`)), 30_000).unref();
  });
  return child;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  try {
    process.kill(-child.pid!, 'SIGTERM');
  } catch {
    return;
  }
  await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000).unref())]);
  // The shell may exit before the relay under it (npx): wait for the whole group, so its data lock is free.
  const end = Date.now() + 10_000;
  while (Date.now() < end && groupAlive(child.pid!)) await new Promise((r) => setTimeout(r, 20));
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

export type { Block };
