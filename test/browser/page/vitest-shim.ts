/**
 * The slice of vitest that test/storage/contract.ts uses, for running that suite unchanged inside a browser
 * page (esbuild aliases `vitest` to this file). `runRegistered()` runs what `describe`/`it` registered and
 * returns one result per test; the Node-side vitest test asserts on them.
 */
type Fn = () => unknown;

const tests: Array<{ name: string; fn: Fn }> = [];
const befores: Fn[] = [];
let prefix = '';

export function describe(name: string, fn: () => void): void {
  const saved = prefix;
  prefix = prefix ? `${prefix} > ${name}` : name;
  try {
    fn();
  } finally {
    prefix = saved;
  }
}

export function it(name: string, fn: Fn): void {
  tests.push({ name: prefix ? `${prefix} > ${name}` : name, fn });
}

export function beforeAll(fn: Fn): void {
  befores.push(fn);
}

export interface TestResult {
  name: string;
  ok: boolean;
  error?: string;
}

export async function runRegistered(): Promise<TestResult[]> {
  for (const fn of befores.splice(0)) await fn();
  const out: TestResult[] = [];
  for (const t of tests.splice(0)) {
    try {
      await t.fn();
      out.push({ name: t.name, ok: true });
    } catch (e) {
      out.push({ name: t.name, ok: false, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
    }
  }
  return out;
}

/** Structural equality as toEqual has it: properties holding undefined count as absent. */
function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => equal(x, b[i]));
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function matches(actual: unknown, pattern: unknown): boolean {
  if (typeof pattern !== 'object' || pattern === null) return Object.is(actual, pattern);
  if (typeof actual !== 'object' || actual === null) return false;
  return Object.entries(pattern).every(([k, v]) => matches((actual as Record<string, unknown>)[k], v));
}

function show(v: unknown): string {
  try {
    const s = JSON.stringify(v);
    return s === undefined ? String(v) : s.length > 300 ? `${s.slice(0, 300)}…` : s;
  } catch {
    return String(v);
  }
}

function check(ok: boolean, what: string): void {
  if (!ok) throw new Error(`expect: ${what}`);
}

export function expect(actual: unknown) {
  return {
    toBe: (want: unknown) => check(Object.is(actual, want), `${show(actual)} to be ${show(want)}`),
    toEqual: (want: unknown) => check(equal(actual, want), `${show(actual)} to equal ${show(want)}`),
    toBeUndefined: () => check(actual === undefined, `${show(actual)} to be undefined`),
    rejects: {
      async toThrow(message: string) {
        const error = await settle(actual);
        check(error instanceof Error && error.message.includes(message), `rejection with "${message}", got ${String(error)}`);
      },
      async toMatchObject(pattern: object) {
        const error = await settle(actual);
        check(matches(error, pattern), `rejection matching ${show(pattern)}, got ${String(error)}`);
      },
    },
  };
}

async function settle(p: unknown): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expect: a rejection, but the promise resolved');
}
