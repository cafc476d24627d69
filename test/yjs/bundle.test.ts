// yjs is an optional peer: the core bundle never pulls it in; concord/yjs does.
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function inputs(entry: string): Promise<string[]> {
  const out = await build({ entryPoints: [root + entry], bundle: true, write: false, metafile: true, format: 'esm', platform: 'browser', external: ['ws'], logLevel: 'silent' });
  return Object.keys(out.metafile.inputs);
}

describe('bundles', () => {
  it('the core (lib/index.ts) and the IndexedDB adapter include no yjs', async () => {
    for (const entry of ['lib/index.ts', 'adapters/indexeddb/index.ts']) {
      const files = await inputs(entry);
      expect(files.some((f) => f.includes('lib/index.ts') || f.includes('adapters/indexeddb'))).toBe(true);
      expect(files.filter((f) => /node_modules\/(yjs|lib0)\//.test(f))).toEqual([]);
    }
  });
  it('concord/yjs does', async () => {
    expect((await inputs('adapters/yjs/index.ts')).some((f) => f.includes('node_modules/yjs/'))).toBe(true);
  });
});
