/**
 * The package as a user gets it: the current source compiled into a staging copy of the package (never
 * the repository's own dist/, which other tests may be reading), packed with `npm pack`, and installed
 * from the tarball into a scratch project in a temp directory (`npm install --prefer-offline`: from the
 * local cache where it can, the registry otherwise).
 */
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';

export const ROOT = resolve(import.meta.dirname, '../..');
const run = promisify(execFile);
const npm = (args: string[], cwd: string) => run('npm', args, { cwd, timeout: 240_000, maxBuffer: 64 << 20, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } });

export interface PackedFile {
  path: string;
  size: number;
}

export interface Scratch {
  /** The temp directory holding the tarball, the staging copy and the scratch project. */
  dir: string;
  tarball: string;
  /** The files `npm pack` put in the tarball. */
  files: PackedFile[];
  /** The scratch project: `node_modules/concord` is the installed package. */
  app: string;
  cleanup(): Promise<void>;
}

/** Builds, packs and installs the package into a fresh scratch project. */
export async function packAndInstall(dependencies: Record<string, string> = {}): Promise<Scratch> {
  const dir = await mkdtemp(join(tmpdir(), 'concord-pack-'));
  try {
    const stage = join(dir, 'stage');
    await mkdir(stage);
    for (const f of ['package.json', 'README.md', 'LICENSE']) await cp(join(ROOT, f), join(stage, f));
    // The demo app ships as built, deploy/ and docs/ as they are; dist/ is compiled from the current source.
    for (const d of ['demo', 'deploy', 'docs']) if (existsSync(join(ROOT, d))) await cp(join(ROOT, d), join(stage, d), { recursive: true, filter: (src) => !src.includes('node_modules') });
    await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json'), '--outDir', join(stage, 'dist')], { cwd: ROOT, timeout: 120_000 });
    const { stdout } = await npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], stage);
    const info = JSON.parse(stdout) as { filename: string; files: PackedFile[] }[];
    const tarball = join(dir, info[0]!.filename);
    const app = join(dir, 'app');
    await mkdir(app);
    await writeFile(
      join(app, 'package.json'),
      JSON.stringify({ name: 'scratch-app', version: '1.0.0', private: true, type: 'module', dependencies: { concord: `file:${tarball}`, ...dependencies } }, null, 2),
    );
    await npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], app);
    return { dir, tarball, files: info[0]!.files, app, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (e) {
    await rm(dir, { recursive: true, force: true });
    throw e;
  }
}

/** Package names a bundle's module paths reach through node_modules (scoped names kept whole). */
export function packagesIn(paths: Iterable<string>): Set<string> {
  const out = new Set<string>();
  for (const p of paths) {
    const i = p.lastIndexOf('node_modules/');
    if (i < 0) continue;
    const parts = p.slice(i + 'node_modules/'.length).split('/');
    out.add(parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!);
  }
  return out;
}

/** `concord` and every package its `dependencies` reach, as installed in the scratch project (nested copies included). */
export async function dependencyClosure(app: string): Promise<Set<string>> {
  const seen = new Set<string>(['concord']);
  const queue = [join(app, 'node_modules', 'concord')];
  while (queue.length) {
    const dir = queue.pop()!;
    const pkg = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { dependencies?: Record<string, string> };
    for (const dep of Object.keys(pkg.dependencies ?? {})) {
      const where = [join(dir, 'node_modules', dep), join(app, 'node_modules', dep)].find((d) => existsSync(d));
      if (where && !seen.has(dep)) {
        seen.add(dep);
        queue.push(where);
      }
    }
  }
  return seen;
}
