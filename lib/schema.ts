/**
 * Typed spaces: a schema maps key patterns to value types, so `get`, `put` and `update` are typed, and
 * optionally checks values at run time through the Standard Schema interface (the `~standard` property
 * that zod, valibot, arktype and others implement; declared here structurally, no dependency).
 *
 *   type Schema = { 'todo/*': Todo; settings: Settings };
 *   const space = replica.space<Schema>('team-42');                  // types only
 *   const space = replica.space('team-42', { schema: { 'todo/*': TodoSchema } }); // types inferred, values checked
 *
 * Invariants:
 * - A value a validator refuses is never stored: `put` rejects (and `update` throws inside its transaction)
 *   with ConcordError 'INVALID_VALUE' before the storage is touched. What is stored is the validator's
 *   output (so defaults and transforms apply), and it must still encode (superjson) like any value.
 * - The most specific matching pattern's validator decides, as for merge functions; a key no validator's
 *   pattern matches is stored unchecked. Deletes, merges (read repair) and values received from peers are
 *   not checked: a schema guards this replica's own writes.
 * - Synchronous validators keep writes in call order; an asynchronous one (a Promise from `validate`)
 *   delays its write until it settles, and cannot check `update` (refused with 'INVALID_OPTION').
 */
import { ConcordError } from './errors.js';
import { lookupPattern, patternTable, type Pattern } from './pattern.js';

/** The part of the Standard Schema v1 interface Concord uses. */
export interface StandardSchemaV1<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

export type StandardResult<Output> = { readonly value: Output; readonly issues?: undefined } | { readonly issues: readonly StandardIssue[] };

export interface StandardIssue {
  readonly message: string;
  readonly path?: readonly (PropertyKey | { readonly key: PropertyKey })[] | undefined;
}

/** The value type a Standard Schema validator produces. */
export type InferOutput<V> = V extends StandardSchemaV1<unknown, infer O> ? O : never;

/** Key patterns (`*` = any run of characters) to value types. */
export type SpaceSchema = Record<string, unknown>;

/** The keys a pattern matches, as a template-literal type: `'todo/*'` → `` `todo/${string}` ``. */
export type PatternKey<P extends string> = P extends `${infer Head}*${infer Tail}` ? `${Head}${string}${PatternKey<Tail>}` : P;

/** Every key a schema allows. */
export type SchemaKey<S> = { [P in keyof S & string]: PatternKey<P> }[keyof S & string];

/** The value type of key `K`: its exact entry if there is one, else the union of the patterns that match it. */
export type SchemaValue<S, K extends string> = K extends keyof S ? S[K] : { [P in keyof S & string]: K extends PatternKey<P> ? S[P] : never }[keyof S & string];

/** Runtime validators by key pattern, each a Standard Schema validator of that pattern's value type. */
export type SchemaValidators<S extends SpaceSchema = SpaceSchema> = { readonly [P in keyof S]?: StandardSchemaV1<unknown, S[P]> };

function isValidator(v: unknown): v is StandardSchemaV1 {
  const std = (v as StandardSchemaV1 | null)?.['~standard'];
  return !!std && typeof std === 'object' && typeof std.validate === 'function';
}

function describe(issues: readonly StandardIssue[]): string {
  return issues
    .slice(0, 3)
    .map((i) => {
      const path = i.path?.map((p) => String(typeof p === 'object' ? p.key : p)).join('.');
      return path ? `${path}: ${i.message}` : i.message;
    })
    .join('; ');
}

/** The validators of one space, compiled. */
export class SchemaTable {
  private readonly table: readonly Pattern<StandardSchemaV1>[];

  constructor(validators: SchemaValidators) {
    if (!validators || typeof validators !== 'object') throw new ConcordError('INVALID_OPTION', 'schema: an object of key patterns to Standard Schema validators');
    for (const [pattern, v] of Object.entries(validators)) {
      if (v !== undefined && !isValidator(v)) {
        throw new ConcordError('INVALID_OPTION', `schema["${pattern}"] is not a Standard Schema validator (an object with a "~standard" property, as zod, valibot and arktype make)`);
      }
    }
    this.table = patternTable(Object.fromEntries(Object.entries(validators).filter(([, v]) => v !== undefined)) as Record<string, StandardSchemaV1>);
  }

  /** Checks a value; the validator's output, or a Promise of it for an asynchronous validator. Throws or rejects with 'INVALID_VALUE'. */
  check(space: string, key: string, value: unknown): unknown {
    const validator = typeof key === 'string' ? lookupPattern(this.table, key) : undefined;
    if (!validator) return value;
    const threw = (cause: unknown): never => {
      throw new ConcordError('INVALID_VALUE', `the schema of "${key}" in space "${space}" threw instead of returning issues: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    };
    let result: ReturnType<StandardSchemaV1['~standard']['validate']>;
    try {
      result = validator['~standard'].validate(value);
    } catch (cause) {
      return threw(cause);
    }
    return result instanceof Promise ? result.then((r) => outcome(space, key, r), threw) : outcome(space, key, result);
  }

  /** `check` for `update`, which runs inside a storage transaction: asynchronous validators are refused. */
  checkSync(space: string, key: string, value: unknown): unknown {
    const checked = this.check(space, key, value);
    if (checked instanceof Promise) {
      checked.catch(() => {});
      throw new ConcordError('INVALID_OPTION', `the schema of "${key}" validates asynchronously: update() cannot wait for it inside its transaction; use get() and put() with the context`);
    }
    return checked;
  }

  /** Checks, then hands the output to `write`; synchronous validators call `write` at once. Never throws: rejects. */
  checkThen<R>(space: string, key: string, value: unknown, write: (value: unknown) => Promise<R>): Promise<R> {
    let checked: unknown;
    try {
      checked = this.check(space, key, value);
    } catch (e) {
      return Promise.reject(e);
    }
    return checked instanceof Promise ? checked.then(write) : write(checked);
  }
}

function outcome(space: string, key: string, result: StandardResult<unknown>): unknown {
  if (result.issues) throw new ConcordError('INVALID_VALUE', `"${key}" in space "${space}" does not match its schema: ${describe(result.issues)}`);
  return result.value;
}

/** undefined when no schema is given. */
export function schemaTable(validators: SchemaValidators | undefined): SchemaTable | undefined {
  return validators === undefined ? undefined : new SchemaTable(validators);
}
