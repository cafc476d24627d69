// The Dockerfile, checked without a Docker engine (none on the CI machine): its runtime stage is replayed
// by hand — `npm ci --omit=dev` from the lockfile into a temp dir, the compiled dist/ beside it — and its
// ENTRYPOINT runs with its ENV (HOST overridden to loopback, a temp data dir, port 0, a secret), its
// HEALTHCHECK command must exit 0 against it, and SIGTERM must stop it with exit code 0. This proves that
// production dependencies suffice, that the paths in the file are right, and that the health check works.
import { execFile, spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
let dir: string | undefined;
afterAll(() => dir && rm(dir, { recursive: true, force: true }));

/** The instructions of the Dockerfile's last stage, continuation lines joined. */
async function runtimeStage(): Promise<{ op: string; args: string }[]> {
  const text = (await readFile(join(ROOT, 'Dockerfile'), 'utf8')).replace(/\\\n/g, ' ');
  const lines = text.split('\n').filter((l) => l.trim() && !l.trim().startsWith('#'));
  const ins = lines.map((l) => {
    const m = /^\s*(\w+)\s+(.*)$/.exec(l)!;
    return { op: m[1]!.toUpperCase(), args: m[2]!.trim() };
  });
  return ins.slice(ins.map((i) => i.op).lastIndexOf('FROM'));
}

describe('Dockerfile (runtime stage replayed without Docker)', () => {
  it('runs as a non-root user with a /data volume, and its entrypoint serves /readyz to its HEALTHCHECK', { timeout: 180_000 }, async () => {
    const stage = await runtimeStage();
    const get = (op: string) => stage.filter((i) => i.op === op).map((i) => i.args);
    expect(get('USER')).toEqual(['node']);
    expect(get('VOLUME').join(' ')).toContain('/data');
    const env = Object.fromEntries(get('ENV').flatMap((a) => [...a.matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1]!, m[2]!])));
    expect(env).toMatchObject({ DATA_DIR: '/data', NODE_ENV: 'production' });
    const entrypoint = JSON.parse(get('ENTRYPOINT')[0]!) as string[];
    const health = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(get('HEALTHCHECK')[0]!);
    expect(health, 'HEALTHCHECK ... CMD ["exec", "form"]').not.toBeNull();
    const healthCmd = JSON.parse(health![1]!) as string[];
    expect(get('RUN').join(' ')).toMatch(/npm ci --omit=dev/);

    // The runtime stage: production dependencies only, and the compiled library.
    dir = await mkdtemp(join(tmpdir(), 'concord-image-'));
    const app = join(dir, 'app');
    await mkdir(app);
    for (const f of ['package.json', 'package-lock.json', 'LICENSE']) await cp(join(ROOT, f), join(app, f));
    await run('npm', ['ci', '--omit=dev', '--omit=peer', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, timeout: 150_000 });
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(app, 'dist')], { cwd: ROOT, timeout: 120_000 });
    await rm(join(app, 'dist', 'test'), { recursive: true, force: true }); // the image copies dist/lib and dist/adapters only

    const childEnv = { ...process.env, ...env, HOST: '127.0.0.1', PORT: '0', DATA_DIR: join(dir, 'data'), CONCORD_SECRET: 'a-secret-of-at-least-16-bytes' };
    const relay = spawn(entrypoint[0] === 'node' ? process.execPath : entrypoint[0]!, entrypoint.slice(1), { cwd: app, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => relay.once('exit', (code) => r(code)));
    let stderr = '';
    relay.stderr!.on('data', (d) => (stderr += String(d)));
    try {
      const port = await new Promise<number>((ok, fail) => {
        createInterface({ input: relay.stdout! }).on('line', (line) => {
          if (line.includes('"relay listening"')) ok((JSON.parse(line) as { port: number }).port);
        });
        void exited.then((code) => fail(new Error(`relay exited (${code}): ${stderr}`)));
      });
      const check = await run(healthCmd[0] === 'node' ? process.execPath : healthCmd[0]!, healthCmd.slice(1), { env: { ...childEnv, PORT: String(port) }, timeout: 10_000 }).then(
        () => 0,
        (e: { code?: number }) => e.code ?? 1,
      );
      expect(check).toBe(0);
      // ...and the same check fails when nothing answers (it is not a check that cannot fail).
      const dead = await run(process.execPath, healthCmd.slice(1), { env: { ...childEnv, PORT: '1' }, timeout: 10_000 }).then(() => 0, (e: { code?: number }) => e.code ?? 1);
      expect(dead).not.toBe(0);
      relay.kill('SIGTERM');
      expect(await exited).toBe(0);
    } finally {
      relay.kill('SIGKILL');
    }
  });
});
