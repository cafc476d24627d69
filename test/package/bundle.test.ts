// The package as a user meets it: packed with `npm pack`, installed from the tarball into a scratch project,
// imported from plain Node and bundled for the browser with esbuild and with Vite. Nothing a browser entry
// point reaches may be a Node built-in, a devDependency, or a package `dependencies` do not hold; prom-client
// (the relay's metrics) is never reached from them. Prints the bundle sizes beside Yjs's (not asserted: the
// figures are reported, see test-results/bundle-sizes.json).
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build as esbuild, type Metafile } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dependencyClosure, packAndInstall, packagesIn, ROOT, type Scratch } from './pack.js';

/** The browser entry points and, for each, the optional peers it may import. */
const BROWSER_ENTRIES: Record<string, string[]> = {
  concord: [],
  'concord/indexeddb': [],
  'concord/ws': [],
  'concord/broadcast-channel': [],
  'concord/react': ['react'],
};
const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isBuiltin = (spec: string) => builtins.has(spec) || builtins.has(spec.split('/')[0]!) || spec.startsWith('node:');

let s: Scratch;
let pkg: { dependencies: Record<string, string>; devDependencies: Record<string, string>; peerDependencies: Record<string, string>; peerDependenciesMeta?: Record<string, { optional?: boolean }> };
let allowed: Set<string>;

beforeAll(async () => {
  s = await packAndInstall({ react: '^19.0.0' });
  pkg = JSON.parse(await readFile(join(s.app, 'node_modules/concord/package.json'), 'utf8'));
  allowed = await dependencyClosure(s.app);
}, 300_000);
afterAll(() => s?.cleanup());

/** Every bare import specifier in a compiled module: static imports and re-exports, and literal dynamic imports. */
function bareImports(source: string): string[] {
  const code = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs = [...code.matchAll(/(?:^|[\s;])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|^import\s*['"]([^'"]+)['"]/gm)].map((m) => m[1] ?? m[2] ?? m[3]!);
  return specs.filter((x) => !x.startsWith('.') && !x.startsWith('/'));
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

const pkgName = (spec: string) => (spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);

describe('the packed package in a scratch project', { timeout: 120_000 }, () => {
  it('ships a LICENSE (MIT), the compiled library and the demo; no test, simulator, source or source-map file', async () => {
    const paths = s.files.map((f) => f.path);
    expect(paths).toContain('LICENSE');
    expect(await readFile(join(s.app, 'node_modules/concord/LICENSE'), 'utf8')).toMatch(/^MIT License/);
    expect(pkg).toMatchObject({ license: 'MIT' });
    expect(paths).toContain('dist/lib/index.js');
    expect(paths).toContain('dist/adapters/cli.js');
    expect(paths).toContain('demo/index.html');
    expect(paths).toContain('deploy/concord-relay.service');
    expect(paths).toContain('docs/deploy.md');
    const unwanted = paths.filter((p) => /(^|\/)test\/|\.test\.|(^|\/)sim-|\.map$|^bench\/|^lib\/|^adapters\/|\.ts$/.test(p) && !p.endsWith('.d.ts'));
    expect(unwanted).toEqual([]);
  });

  it('nothing in dist imports a package that dependencies do not hold; an optional peer only from its own subpath', async () => {
    const root = join(s.app, 'node_modules/concord');
    const held = new Set([...Object.keys(pkg.dependencies), ...Object.keys(pkg.peerDependencies ?? {})]);
    const bad: string[] = [];
    const peersUsed = new Map<string, Set<string>>();
    for (const file of (await walk(join(root, 'dist'))).filter((f) => f.endsWith('.js'))) {
      for (const spec of bareImports(await readFile(file, 'utf8'))) {
        if (isBuiltin(spec)) continue;
        const name = pkgName(spec);
        if (!held.has(name)) bad.push(`${relative(root, file)} imports ${spec}`);
        if (pkg.peerDependencies?.[name]) peersUsed.set(name, (peersUsed.get(name) ?? new Set()).add(relative(root, file)));
      }
    }
    expect(bad).toEqual([]);
    // Each optional peer is imported only by the modules of the subpath made for it.
    for (const [name, files] of peersUsed) {
      expect(pkg.peerDependenciesMeta?.[name]?.optional, `${name} is an optional peer`).toBe(true);
      for (const f of files) expect(f, `${name} imported from ${f}`).toMatch(new RegExp(`^dist/adapters/${name}/`));
    }
  });

  it('imports from plain Node without any optional peer: checkMerge runs on samples, and asks for fast-check by name when given an arbitrary', async () => {
    const script = `
      import { checkMerge, openReplica, memoryStorage, isConcordError } from 'concord';
      import { fileStorage } from 'concord/fs';
      import { createToken } from 'concord/relay';
      const r = await checkMerge((s) => Math.max(...s), [1, 5, 9], { runs: 20 });
      const fakeArbitrary = { generate() {}, filter() {} };
      let code;
      try { await checkMerge((s) => s[0], fakeArbitrary); } catch (e) { code = isConcordError(e) ? e.code : String(e); }
      const replica = await openReplica({ storage: memoryStorage() });
      await replica.space('s').put('k', 1);
      const got = (await replica.space('s').get('k')).value;
      await replica.close();
      console.log(JSON.stringify({ ok: r.ok, code, got, fs: typeof fileStorage, token: typeof createToken }));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { cwd: s.app, timeout: 30_000 });
    expect(JSON.parse(stdout)).toEqual({ ok: true, code: 'MISSING_DEPENDENCY', got: 1, fs: 'function', token: 'function' });
  });

  it('esbuild bundles every browser entry point for the browser, reaching no Node built-in, no devDependency, no prom-client', async () => {
    for (const [entry, peers] of Object.entries(BROWSER_ENTRIES)) {
      const result = await esbuild({
        stdin: { contents: `export * from '${entry}';`, resolveDir: s.app, loader: 'js' },
        bundle: true,
        platform: 'browser',
        format: 'esm',
        write: false,
        metafile: true,
        logLevel: 'silent',
        absWorkingDir: s.app,
      });
      const inputs = Object.keys(result.metafile.inputs);
      const reached = packagesIn(inputs);
      expect([...reached].filter((p) => !allowed.has(p) && !peers.includes(p)), entry).toEqual([]);
      expect([...reached].filter((p) => p in pkg.devDependencies && !peers.includes(p)), entry).toEqual([]);
      expect(reached.has('prom-client'), entry).toBe(false);
      const externals = Object.values(result.metafile.inputs).flatMap((i) => i.imports.filter((x) => x.external).map((x) => x.path));
      expect(externals.filter(isBuiltin), entry).toEqual([]);
      expect(reached.has('concord')).toBe(true);
    }
  });

  it('Vite 8 builds every browser entry point: no module externalized for browser compatibility, no devDependency reached', async () => {
    const { build } = await import('vite');
    const src = join(s.app, 'src');
    await mkdir(src, { recursive: true });
    const input: Record<string, string> = {};
    for (const entry of Object.keys(BROWSER_ENTRIES)) {
      const name = entry.replace('/', '-');
      await writeFile(join(src, `${name}.js`), `export * from '${entry}';\n`);
      input[name] = join(src, `${name}.js`);
    }
    const warnings: string[] = [];
    const output = await build({
      root: s.app,
      configFile: false,
      logLevel: 'silent',
      build: {
        write: false,
        minify: true,
        outDir: join(s.app, 'dist-vite'),
        rollupOptions: { input, preserveEntrySignatures: 'exports-only', onwarn: (w) => void warnings.push(String(w.message ?? w)) },
      },
    });
    const outputs = (Array.isArray(output) ? output : [output]).flatMap((o) => ('output' in o ? o.output : []));
    const chunks = outputs.filter((o) => o.type === 'chunk');
    expect(chunks.length).toBeGreaterThanOrEqual(Object.keys(BROWSER_ENTRIES).length);
    const ids = chunks.flatMap((c) => ('moduleIds' in c && Array.isArray(c.moduleIds) ? c.moduleIds : Object.keys(c.modules)));
    expect(ids.filter((id) => id.includes('browser-external') || isBuiltin(id))).toEqual([]);
    const externalImports = chunks.flatMap((c) => [...c.imports, ...c.dynamicImports]).filter((i) => !chunks.some((c) => c.fileName === i));
    expect(externalImports).toEqual([]);
    // A module left unresolved stays in the code as a bare import: none may be left.
    const bare = chunks.flatMap((c) => [...c.code.matchAll(/(?:\bfrom|\bimport\s*\(?)\s*["']([^"'./][^"']*)["']/g)].map((m) => `${c.fileName}: ${m[1]}`));
    expect(bare).toEqual([]);
    // Vite replaces a missing optional peer with a stub that throws when loaded: no entry point may need one.
    expect(chunks.filter((c) => c.fileName.includes('optional-peer-dep')).map((c) => c.fileName)).toEqual([]);
    const reached = packagesIn(ids);
    expect([...reached].filter((p) => !allowed.has(p) && p !== 'react')).toEqual([]);
    expect(reached.has('prom-client')).toBe(false);
    expect(warnings.filter((w) => /externalized|could not be resolved|Cannot resolve/i.test(w))).toEqual([]);
  });

  it('reports the minified and gzip sizes of concord + concord/indexeddb + concord/ws beside Yjs + y-indexeddb + y-websocket', async () => {
    const size = async (contents: string, resolveDir: string) => {
      const r = await esbuild({ stdin: { contents, resolveDir, loader: 'js' }, bundle: true, minify: true, platform: 'browser', format: 'esm', write: false, metafile: true, logLevel: 'silent', absWorkingDir: resolveDir });
      const code = r.outputFiles[0]!.contents;
      return { minified: code.length, gzip: gzipSync(code, { level: 9 }).length, byPackage: topInputs(r.metafile) };
    };
    const figures = {
      concord: {
        whole: await size(`export * from 'concord'; export * from 'concord/indexeddb'; export * from 'concord/ws';`, s.app),
        app: await size(
          `import { openReplica, merges } from 'concord'; import { indexedDBStorage } from 'concord/indexeddb'; import { webSocketTransport } from 'concord/ws';
           const r = await openReplica({ storage: indexedDBStorage('app'), merge: { 'todo/*': merges.lww } });
           r.connect(webSocketTransport('wss://relay.example'));
           r.space('s').subscribe('*', console.log); export default r;`,
          s.app,
        ),
      },
      yjs: {
        whole: await size(`export * from 'yjs'; export * from 'y-indexeddb'; export * from 'y-websocket';`, ROOT),
        app: await size(
          `import * as Y from 'yjs'; import { IndexeddbPersistence } from 'y-indexeddb'; import { WebsocketProvider } from 'y-websocket';
           const d = new Y.Doc(); new IndexeddbPersistence('app', d); new WebsocketProvider('wss://relay.example', 'room', d);
           d.getMap('s').observe(console.log); export default d;`,
          ROOT,
        ),
      },
    };
    const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;
    for (const [lib, f] of Object.entries(figures)) {
      console.log(`${lib.padEnd(8)} whole API: ${kb(f.whole.minified)} min / ${kb(f.whole.gzip)} gzip · typical app: ${kb(f.app.minified)} min / ${kb(f.app.gzip)} gzip`);
    }
    console.log('concord, largest parts (minified bytes):', figures.concord.whole.byPackage.slice(0, 8).map(([k, v]) => `${k} ${v}`).join(', '));
    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    await writeFile(join(ROOT, 'test-results', 'bundle-sizes.json'), JSON.stringify(figures, null, 2) + '\n');
    // The figures are real bundles of real code: sanity bounds only, never a size target.
    for (const f of [figures.concord.whole, figures.concord.app, figures.yjs.whole]) {
      expect(f.minified).toBeGreaterThan(10_000);
      expect(f.gzip).toBeLessThan(f.minified);
    }
    expect(figures.concord.app.minified).toBeLessThanOrEqual(figures.concord.whole.minified);
  });
});

/** Minified bytes by package (node_modules) or by top-level folder of concord's dist. */
function topInputs(meta: Metafile): [string, number][] {
  const output = Object.values(meta.outputs)[0]!;
  const by = new Map<string, number>();
  for (const [path, { bytesInOutput }] of Object.entries(output.inputs)) {
    const m = /node_modules\/concord\/dist\/(.*)$/.exec(path);
    const key = m ? `concord/${m[1]!.split('/').slice(0, m[1]!.startsWith('lib/') && m[1]!.split('/').length > 2 ? 2 : 1).join('/')}` : ([...packagesIn([path])][0] ?? path);
    by.set(key, (by.get(key) ?? 0) + bytesInOutput);
  }
  return [...by].sort((a, b) => b[1] - a[1]);
}
