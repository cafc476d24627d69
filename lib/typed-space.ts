/**
 * `TypedSpace<S>`: the type of a space whose keys and values a schema fixes (see schema.ts). At run time it
 * is the same `Space` object; only the signatures of the key–value methods narrow.
 */
import type { SchemaKey, SchemaValue, SpaceSchema } from './schema.js';
import type { Space, WriteOptions, WriteResult } from './space.js';
import type { ChangeEvent, GetResult } from './types.js';

type Untyped = 'get' | 'put' | 'update' | 'delete' | 'scan' | 'subscribe';

export interface TypedSpace<S extends SpaceSchema> extends Omit<Space, Untyped> {
  /** The key's live value(s), typed by the schema entry its key matches. */
  get<K extends SchemaKey<S>>(key: K): Promise<GetResult<SchemaValue<S, K>> | undefined>;
  /** Stores a value of the type the schema gives the key (checked first when the space has validators). */
  put<K extends SchemaKey<S>>(key: K, value: SchemaValue<S, K>, options?: WriteOptions): Promise<WriteResult>;
  update<K extends SchemaKey<S>>(
    key: K,
    fn: (current: SchemaValue<S, K> | undefined, read: GetResult<SchemaValue<S, K>> | undefined) => SchemaValue<S, K>,
  ): Promise<WriteResult>;
  delete(key: SchemaKey<S>, options?: WriteOptions): Promise<WriteResult>;
  scan(prefix?: string, options?: { pageSize?: number }): AsyncGenerator<GetResult<S[keyof S]> & { key: string }>;
  subscribe(pattern: string, cb: (change: ChangeEvent<S[keyof S]>) => void): () => void;
}

/** What `replica.space(name, options)` returns: a `Space`, or a `TypedSpace` when a schema type is given or inferred. */
export type SpaceOf<S extends SpaceSchema> = [S] extends [never] ? Space : TypedSpace<S>;
