// docs/errors.md documents every error code (the ConcordErrorCode union in lib/errors.ts) and every close
// code (CloseCode in lib/transport.ts, plus the two the WebSocket layer produces), with when and what to do;
// and documents nothing that does not exist.
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CloseCode } from '../../lib/index.js';

const ROOT = resolve(import.meta.dirname, '../..');
const doc = readFileSync(join(ROOT, 'docs/errors.md'), 'utf8');

/** The string literals of `export type ConcordErrorCode = ...;` in lib/errors.ts. */
function errorCodesInSource(): string[] {
  const src = readFileSync(join(ROOT, 'lib/errors.ts'), 'utf8');
  const union = /export type ConcordErrorCode\s*=([^;]+);/.exec(src)![1]!;
  return [...union.matchAll(/'([A-Z_]+)'/g)].map((m) => m[1]!).sort();
}

/** The doc's sections by error code (`### `CODE`` headings). */
function sections(): Map<string, string> {
  const out = new Map<string, string>();
  const parts = doc.split(/^### `([A-Z_]+)`\s*$/m);
  for (let i = 1; i < parts.length; i += 2) out.set(parts[i]!, parts[i + 1]!.split(/^## /m)[0]!);
  return out;
}

describe('docs/errors.md', () => {
  it('has a section for every error code, and none for a code that does not exist', () => {
    expect([...sections().keys()].sort()).toEqual(errorCodesInSource());
  });

  it('says for each error code when it happens and what to do', () => {
    for (const [code, body] of sections()) {
      expect(body, code).toMatch(/\*\*When:\*\* \S/);
      expect(body, code).toMatch(/\*\*What to do:\*\* \S/);
    }
  });

  it('lists every close code with its name, when, and what to do', () => {
    const rows = [...doc.matchAll(/^\| (\d{4}) \| ([^|]+) \| ([^|]+) \| ([^|]+) \|$/gm)].map((m) => ({ code: Number(m[1]), name: m[2]!.trim(), when: m[3]!.trim(), todo: m[4]!.trim() }));
    const documented = new Map(rows.map((r) => [r.code, r]));
    for (const [name, code] of Object.entries(CloseCode)) {
      expect(documented.get(code)?.name, `close code ${code}`).toBe(name);
    }
    const wsLayer = [1006, 1009]; // produced by the WebSocket layer (a drop; ws's maxPayload), not by Concord's engine
    expect(rows.map((r) => r.code).sort()).toEqual([...Object.values(CloseCode), ...wsLayer].sort());
    for (const r of rows) expect(r.when.length > 10 && r.todo.length > 5, String(r.code)).toBe(true);
  });
});
