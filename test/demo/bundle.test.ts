// The demo's browser bundle, built with the options `npm run build` uses: it reaches no Node built-in. The only
// import left external is `ws`, loaded lazily (a dynamic import) by the WebSocket transport in Node only.
import { builtinModules } from 'node:module';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { demoBuildOptions } from '../../demo/build.mjs';

const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
const isBuiltin = (spec: string) => spec.startsWith('node:') || builtins.has(spec) || builtins.has(spec.split('/')[0]!);

describe('the demo bundle', () => {
  it('reaches no Node built-in; only ws stays external, as a dynamic import', { timeout: 60_000 }, async () => {
    const result = await build({ ...demoBuildOptions, write: false, metafile: true, sourcemap: false, logLevel: 'silent' });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.some((p) => p.includes('demo/src/main.ts'))).toBe(true);
    for (const [path, input] of Object.entries(result.metafile.inputs)) {
      for (const imp of input.imports) expect(isBuiltin(imp.path), `${path} imports ${imp.path}`).toBe(false);
    }
    const externals = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.external));
    expect(externals.map((i) => [i.path, i.kind])).toEqual(externals.length ? [['ws', 'dynamic-import']] : []);
    const js = result.outputFiles.filter((f) => f.path.endsWith('.js')).map((f) => f.text).join('\n');
    expect(js).not.toMatch(/\bfrom\s*["']node:|require\(\s*["']node:|import\(\s*["']node:/);
  });
});
