/**
 * A space: a named sync scope with its own keys, merge functions and subscribers. All reads and writes
 * of the public API go through here; state changes go through the core's `write` and `join`.
 */
import type { ReplicaCore, StoredChange, WriteContent } from './core.js';
import { decodeContext, encodeContext, sameState, type VersionVector } from './dvv.js';
import { ConcordError } from './errors.js';
import { compilePattern, lookupPattern, patternTable, type Pattern } from './pattern.js';
import type { KeyRecord } from './storage.js';
import type { ChangeEvent, Context, Durability, GetResult, MergeFn, MergeTable } from './types.js';
import { utf8Length, encodeValue } from './values.js';
import { MergeError, readView, type View } from './view.js';
import { SpacePresence, type PresenceHub } from './sync/presence-hub.js';
import { schemaTable, type SchemaTable, type SchemaValidators } from './schema.js';

export const MAX_KEY_BYTES = 1024;
const SPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;

export interface SpaceOptions {
  /** Merge functions by key pattern; they take precedence over the replica's. */
  merge?: MergeTable;
  /** A read-only space refuses writes and merges on read without writing back. */
  readOnly?: boolean;
  /** Standard Schema validators by key pattern: `put` and `update` refuse other values ('INVALID_VALUE'). See schema.ts. */
  schema?: SchemaValidators<any>;
}

export interface WriteOptions {
  /** The context of a read: the write supersedes exactly what that read saw. */
  context?: Context;
}

export interface SpaceHost {
  readonly core: ReplicaCore;
  readonly maxValueBytes: number;
  readonly merges: readonly Pattern<MergeFn>[];
  /** True when sync made this space read-only for us (a token with read rights only). */
  isReadOnly(space: string): boolean;
  readonly presenceHub: PresenceHub;
}

export function checkSpaceName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !SPACE_NAME.test(name)) {
    throw new ConcordError('INVALID_SPACE', `invalid space name ${JSON.stringify(name)}: 1–128 characters of A–Z a–z 0–9 . _ : @ / + = -, starting with a letter or digit`);
  }
}

export function checkKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new ConcordError('INVALID_KEY', `keys are non-empty strings, got ${key === '' ? 'an empty string' : typeof key}`);
  }
  if (key.length > MAX_KEY_BYTES / 3 && utf8Length(key) > MAX_KEY_BYTES) {
    throw new ConcordError('INVALID_KEY', `key is ${utf8Length(key)} bytes long; the limit is ${MAX_KEY_BYTES}`);
  }
}

/** The outcome of a write: durable locally when you hold it. */
export class WriteResult {
  private syncedPromise: Promise<void> | undefined;
  private contextText: Context | undefined;

  constructor(
    private readonly core: ReplicaCore,
    readonly space: string,
    readonly key: string,
    /** The write's position in this replica's change log (0 for a write that changed nothing). */
    readonly seq: number,
    private readonly cc: VersionVector,
  ) {}

  /** The causal context of the key right after this write. */
  get context(): Context {
    return (this.contextText ??= encodeContext(this.cc));
  }

  /** 'local', 'synced' (a relay or peer stored it), or 'replicated' (relays report at least two of them hold it). */
  get durability(): Durability {
    if (this.seq === 0) return 'synced';
    if (this.core.acks.replicatedCount(this.space, this.seq) >= 2) return 'replicated';
    return this.core.acks.isAcked(this.space, this.seq) ? 'synced' : 'local';
  }

  /**
   * Resolves once at least `relays` relays of a cluster hold the write (or a later state of the key), as
   * reported by the relay this replica syncs with. Never rejects; it stays pending while fewer relays are
   * reachable (race it with a timeout if needed). A write that changed nothing resolves at once.
   */
  replicated(relays = 2): Promise<void> {
    if (this.seq === 0) return Promise.resolve();
    return this.core.acks.waitReplicated(this.space, this.seq, relays);
  }

  /** Resolves once a relay or peer stored the write (or a later state of the key). Never rejects. */
  get synced(): Promise<void> {
    return (this.syncedPromise ??= this.seq === 0 ? Promise.resolve() : this.core.acks.wait(this.space, this.seq));
  }
}

interface Subscriber {
  readonly test: (key: string) => boolean;
  readonly cb: (change: ChangeEvent) => void;
}

export class Space {
  private merges: readonly Pattern<MergeFn>[];
  private readOnlyOption: boolean;
  private readonly subscribers = new Set<Subscriber>();
  private presenceHandle: SpacePresence | undefined;
  private schemas: SchemaTable | undefined;

  constructor(
    private readonly host: SpaceHost,
    readonly name: string,
    options: SpaceOptions = {},
  ) {
    this.merges = patternTable(options.merge);
    this.readOnlyOption = options.readOnly ?? false;
    this.schemas = schemaTable(options.schema);
  }

  /** @internal Re-applies options when `replica.space(name, options)` is called again. */
  configure(options: SpaceOptions): void {
    if (options.merge) this.merges = patternTable(options.merge);
    if (options.readOnly !== undefined) this.readOnlyOption = options.readOnly;
    if (options.schema !== undefined) this.schemas = schemaTable(options.schema);
  }

  get readOnly(): boolean {
    return this.readOnlyOption || this.host.isReadOnly(this.name);
  }

  private get core(): ReplicaCore {
    return this.host.core;
  }

  /** Who is online in this space, with app metadata; spread by gossip through the relays. */
  get presence(): SpacePresence {
    return (this.presenceHandle ??= new SpacePresence(this.host.presenceHub, this.name));
  }

  mergeFor(key: string): MergeFn | undefined {
    return lookupPattern(this.merges, key) ?? lookupPattern(this.host.merges, key);
  }

  /** Stores a value, superseding what this replica holds of the key (or exactly `options.context`). Resolves once durable locally. */
  put<T>(key: string, value: T, options?: WriteOptions): Promise<WriteResult> {
    if (this.schemas) return this.schemas.checkThen(this.name, key, value, (checked) => this.store(key, checked, options));
    return this.store(key, value, options);
  }

  private store(key: string, value: unknown, options?: WriteOptions): Promise<WriteResult> {
    // Not an async function (one promise less per put); bad input still rejects, it never throws.
    let v: string;
    let ctx: VersionVector | undefined;
    try {
      checkKey(key);
      this.assertWritable();
      v = encodeValue(value, this.host.maxValueBytes);
      ctx = contextOption(options);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.commit(key, () => ({ v }), ctx);
  }

  /** Deletes (a tombstone version). A write concurrent with the delete survives as a sibling. */
  async delete(key: string, options?: WriteOptions): Promise<WriteResult> {
    checkKey(key);
    this.assertWritable();
    const ctx = contextOption(options);
    return this.commit(key, (cur) => (ctx || cur?.vs.some((v) => !v.d) ? { d: true } : undefined), ctx);
  }

  /**
   * Atomic read-modify-write on this replica: `fn` gets the value `get` would return (merged, or the latest
   * sibling), inside the storage transaction, and its result supersedes everything read. Use it with the
   * CRDT helpers (`counter.increment`, `addWins.add`, `text.edit`), which must not run twice on one state.
   * `fn` must be synchronous.
   */
  async update<T>(key: string, fn: (current: T | undefined, read: GetResult<T> | undefined) => T): Promise<WriteResult> {
    checkKey(key);
    this.assertWritable();
    const merge = this.mergeFor(key);
    return this.commit(key, (cur) => {
      const view = cur ? this.view(key, cur, merge) : undefined;
      const read = view?.result as GetResult<T> | undefined;
      const next = this.schemas ? this.schemas.checkSync(this.name, key, fn(read?.value, read)) : fn(read?.value, read);
      return { v: encodeValue(next, this.host.maxValueBytes) };
    });
  }

  /** The key's live value(s); undefined when absent or deleted. Merges siblings and writes the merge back (read repair). */
  async get<T = unknown>(key: string): Promise<GetResult<T> | undefined> {
    checkKey(key);
    this.core.assertOpen();
    const rec = await this.core.storage.get(this.name, key);
    return rec ? ((await this.resolve(key, rec)) as GetResult<T> | undefined) : undefined;
  }

  /** Every live key under a prefix, in key order, with its `get` result. */
  async *scan<T = unknown>(prefix = '', options: { pageSize?: number } = {}): AsyncGenerator<GetResult<T> & { key: string }> {
    if (typeof prefix !== 'string') throw new ConcordError('INVALID_KEY', 'scan prefix must be a string');
    const limit = options.pageSize ?? 256;
    let after: string | undefined;
    for (;;) {
      this.core.assertOpen();
      const page = await this.core.storage.scan(this.name, { prefix, limit, ...(after !== undefined ? { after } : {}) });
      for (const [key, rec] of page) {
        const result = await this.resolve(key, rec);
        if (result) yield { key, ...(result as GetResult<T>) };
      }
      if (page.length < limit) return;
      after = page[page.length - 1]![0];
    }
  }

  /** Calls `cb` for every later change (local or remote) of a key matching `pattern` (`*` matches anything). */
  subscribe<T = unknown>(pattern: string, cb: (change: ChangeEvent<T>) => void): () => void {
    if (typeof pattern !== 'string' || typeof cb !== 'function') {
      throw new ConcordError('INVALID_OPTION', 'subscribe(pattern: string, callback: function)');
    }
    const sub: Subscriber = { test: compilePattern(pattern), cb: cb as (change: ChangeEvent) => void };
    this.subscribers.add(sub);
    return () => void this.subscribers.delete(sub);
  }

  /** @internal Called by the replica for every stored change of this space. */
  dispatch(change: StoredChange): void {
    if (this.subscribers.size === 0) return;
    let event: ChangeEvent | undefined;
    for (const sub of this.subscribers) {
      if (!sub.test(change.key)) continue;
      event ??= this.changeEvent(change);
      try {
        sub.cb(event);
      } catch (e) {
        this.core.events.emit('error', e);
      }
    }
  }

  private changeEvent({ key, rec, origin }: StoredChange): ChangeEvent {
    const result = this.view(key, rec, this.mergeFor(key))?.result;
    return result
      ? { key, value: result.value, siblings: result.siblings, conflict: result.conflict, deleted: false, origin }
      : { key, value: undefined, siblings: [], conflict: false, deleted: true, origin };
  }

  /** A view of a record; a throwing merge function is reported and the siblings are shown unmerged. */
  private view(key: string, rec: KeyRecord, merge: MergeFn | undefined): View | undefined {
    try {
      return readView(key, this.name, rec, merge);
    } catch (e) {
      if (!(e instanceof MergeError)) throw e;
      this.core.events.emit('error', new ConcordError('MERGE_FAILED', e.message, { cause: e.cause }));
      return readView(key, this.name, rec, undefined);
    }
  }

  private async resolve(key: string, rec: KeyRecord): Promise<GetResult | undefined> {
    const view = this.view(key, rec, this.mergeFor(key));
    if (!view?.repair || this.readOnly) return view?.result;
    // Read repair: write the merge back with the context that was read, so it supersedes exactly the merged siblings —
    // and only if the key is still in the state that was read: a write committed meanwhile already superseded
    // (some of) those siblings, and writing their merge beside it would bring them back.
    const content: WriteContent = view.repair === 'delete' ? { d: true } : { v: encodeValue(view.result!.value, this.host.maxValueBytes) };
    const repaired = await this.core.write(this.name, key, (cur) => (cur && sameState(cur, rec) ? content : undefined), rec.cc);
    if (!repaired || view.repair === 'delete') return view.result;
    const after = this.view(key, repaired, undefined)?.result;
    return after && !after.conflict ? { ...view.result!, versions: after.versions, context: after.context } : view.result;
  }

  private commit(key: string, produce: (cur: KeyRecord | undefined) => WriteContent | undefined, ctx?: VersionVector): Promise<WriteResult> {
    return this.core.write(this.name, key, produce, ctx).then((rec) => new WriteResult(this.core, this.name, key, rec?.seq ?? 0, rec ? rec.cc : (ctx ?? {})));
  }

  private assertWritable(): void {
    this.core.assertOpen();
    if (this.readOnly) throw new ConcordError('FORBIDDEN', `space "${this.name}" is read-only here`);
  }
}

function contextOption(options: WriteOptions | undefined): VersionVector | undefined {
  if (options?.context === undefined) return undefined;
  const ctx = decodeContext(options.context);
  if (!ctx) throw new ConcordError('INVALID_CONTEXT', 'context is not one returned by get() or put()');
  return ctx;
}
