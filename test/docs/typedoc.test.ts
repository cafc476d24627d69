// The API reference builds: `npm run docs` (TypeDoc, on the TypeScript 5.9 JavaScript API through the
// typescript-api alias) succeeds with warnings treated as errors, and documents the public entry points.
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
let out: string | undefined;
afterAll(() => out && rm(out, { recursive: true, force: true }));

describe('API reference (TypeDoc)', () => {
  it('builds without warnings and covers every subpath', { timeout: 120_000 }, async () => {
    out = await mkdtemp(join(tmpdir(), 'concord-api-'));
    await promisify(execFile)(process.execPath, [join(ROOT, 'scripts/typedoc.mjs'), '--out', out], { cwd: ROOT, timeout: 110_000 });
    const functions = await readdir(join(out, 'functions'));
    for (const name of ['openReplica', 'memoryStorage', 'checkMerge', 'pairTransports', 'fileStorage', 'indexedDBStorage', 'webSocketTransport', 'createRelay', 'createToken', 'useValue', 'useScan', 'useStatus', 'usePresence']) {
      expect(functions.some((f) => f.endsWith(`.${name}.html`)), name).toBe(true);
    }
    const useValue = await readFile(join(out, 'functions', functions.find((f) => f.endsWith('.useValue.html'))!), 'utf8');
    expect(useValue).toContain('ValueSnapshot');
  });
});
