/**
 * A space: a named sync scope with its own keys, merge functions and subscribers. All reads and writes
 * of the public API go through here; state changes go through the core's `write` and `join`.
 */
import { LATER, type ReplicaCore, type StoredChange, type WriteContent } from './core.js';
import type { WriteReceiver } from './local-write.js';
import { decodeCausal, sameState, type Causal } from './dvv.js';
import { ConcordError } from './errors.js';
import { compilePattern, lookupPattern, patternTable, type Pattern } from './pattern.js';
import type { KeyRecord } from './storage.js';
import type { ChangeEvent, Context, GetResult, MergeFn, MergeTable } from './types.js';
import { decodeValue, takeDecoded, utf8Length, encodeValue, wellFormed, type EncodedValue } from './values.js';
import { valueOf } from './deltas.js';
import { MergeError, readView, type View } from './view.js';
import { SpacePresence, type PresenceHub } from './sync/presence-hub.js';
import { schemaTable, type SchemaTable, type SchemaValidators } from './schema.js';
import { WriteResult } from './write-result.js';
import { mintingAfterOwnDelete } from './minting.js';
import { typeOf } from './typed.js';

export { WriteResult };

export const MAX_KEY_BYTES = 1024;
const SPACE_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,127}$/;
/** No value noted for a version (values.ts takeDecoded). */
const NOT_NOTED = Symbol('not noted');

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
  /** A write through the API started (true) or ended, stored or failed (false): `whenSynced` waits for those in flight. */
  writing?(on: boolean): void;
  /** A binding owes writes (`flush` makes them): the replica's close() makes them first. Returns the release. */
  owes?(flush: () => Promise<unknown>): () => void;
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
  // Keys travel as UTF-8, which cannot carry a lone surrogate: peers would store it under another key (U+FFFD).
  if (!wellFormed(key)) throw new ConcordError('INVALID_KEY', 'key holds a lone UTF-16 surrogate (not a Unicode string: it cannot travel as UTF-8)');
}

interface Subscriber {
  readonly test: (key: string) => boolean;
  readonly cb: (change: ChangeEvent) => void;
}

export class Space {
  private merges: readonly Pattern<MergeFn>[];
  private readOnlyOption: boolean;
  private readonly subscribers = new Set<Subscriber>();
  private readonly watchers = new Map<string, Set<(change: StoredChange, read: () => GetResult | undefined) => void>>();
  private presenceHandle: SpacePresence | undefined;
  private readonly reported = new Set<string>();
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
    if (this.schemas) return this.checkedPut(this.schemas, key, value, options);
    return this.store(key, value, options);
  }

  /** A method of its own: its closure's context would otherwise be allocated by every put, schemas or not. */
  private checkedPut(schemas: SchemaTable, key: string, value: unknown, options: WriteOptions | undefined): Promise<WriteResult> {
    return schemas.checkThen(this.name, key, value, (checked) => this.store(key, checked, options));
  }

  private store(key: string, value: unknown, options?: WriteOptions): Promise<WriteResult> {
    // Not an async function (one promise less per put); bad input still rejects, it never throws.
    let v: EncodedValue;
    let ctx: Causal | undefined;
    try {
      checkKey(key);
      this.assertWritable();
      v = encodeValue(value, this.host.maxValueBytes);
      ctx = contextOption(options, this.host.core.takesEpochs);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.commit(key, { v }, ctx);
  }

  /** Deletes (a tombstone version). A write concurrent with the delete survives as a sibling. */
  async delete(key: string, options?: WriteOptions): Promise<WriteResult> {
    checkKey(key);
    this.assertWritable();
    const ctx = contextOption(options, this.host.core.takesEpochs);
    return this.commit(key, (cur) => (ctx || cur?.vs.some((v) => !v.d) ? { d: true } : undefined), ctx);
  }

  /**
   * Atomic read-modify-write on this replica: `fn` gets the value `get` would return (merged, or the latest
   * sibling), inside the storage transaction, and its result supersedes everything read. Use it with the
   * CRDT helpers (`counter.increment`, `addWins.add`), which must not run twice on one state.
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

  /**
   * @internal For bindings that follow one key at the level of its stored versions (concord/yjs applies a derived
   * version's delta instead of reading the whole value): `cb` gets every stored change of the key, and `read` gives
   * what `get` would return for it (without writing a merge back). Returns unwatch.
   */
  watch(key: string, cb: (change: StoredChange, read: () => GetResult | undefined) => void): () => void {
    let set = this.watchers.get(key);
    if (!set) this.watchers.set(key, (set = new Set()));
    set.add(cb);
    return () => {
      set.delete(cb);
      if (set.size === 0 && this.watchers.get(key) === set) this.watchers.delete(key);
    };
  }

  /**
   * @internal For bindings that collect edits before writing them (concord/yjs): `flush` writes what is owed, and
   * `replica.close()` calls it before it settles (rejecting with its failure). Returns the function that releases it.
   */
  owe(flush: () => Promise<unknown>): () => void {
    return this.host.owes?.(flush) ?? (() => undefined);
  }

  /** @internal For bindings: `error` goes to the replica's 'error' event (a listener of theirs that threw). */
  report(error: unknown): void {
    this.core.events.emit('error', error);
  }

  /** @internal For bindings: `cb` runs each time the replica's status becomes 'synced'. Returns the unsubscribe. */
  onSynced(cb: () => void): () => void {
    return this.core.events.on('status', (status) => status === 'synced' && cb());
  }

  /** @internal The key's stored record, with a reader of its `get` view (no merge written back). */
  async readRecord(key: string): Promise<{ rec: KeyRecord; read: () => GetResult | undefined } | undefined> {
    checkKey(key);
    this.core.assertOpen();
    const rec = await this.core.storage.get(this.name, key);
    return rec && { rec, read: () => this.view(key, rec, this.mergeFor(key))?.result };
  }

  /**
   * @internal A write whose content is decided from the stored record inside the transaction (bindings): `produce`
   * sees the record and a reader of its view, and returns a value, a delta of a typed value against the record's live
   * versions (record.ts WriteContent), or undefined to write nothing. It supersedes everything it read.
   */
  writeWith(
    key: string,
    produce: (cur: KeyRecord | undefined, read: () => GetResult | undefined) => { value: unknown } | { delta: Uint8Array; type: string; whole?: () => Uint8Array } | undefined,
  ): Promise<WriteResult> {
    try {
      checkKey(key);
      this.assertWritable();
    } catch (e) {
      return Promise.reject(e);
    }
    const merge = this.mergeFor(key);
    return this.commit(key, (cur) => {
      const out = produce(cur, () => (cur ? this.view(key, cur, merge)?.result : undefined));
      if (out === undefined) return undefined;
      if ('delta' in out) return { delta: out.delta, type: out.type, maxBytes: this.host.maxValueBytes, ...(out.whole ? { whole: out.whole } : {}) };
      return { v: encodeValue(out.value, this.host.maxValueBytes) };
    });
  }

  /** @internal Called by the replica for every stored change of this space. */
  dispatch(change: StoredChange): void {
    const watchers = this.watchers.get(change.key);
    if (watchers) this.tellWatchers(watchers, change);
    if (this.subscribers.size === 0) return;
    for (const sub of this.subscribers) {
      if (!sub.test(change.key)) continue;
      // Each subscriber an event of its own (its value decoded for it): one that rewrites its event or the value in it
      // changes nothing a later one is handed (concord/react's stores read `key`). One subscriber costs as before.
      const event = this.changeEvent(change);
      try {
        sub.cb(event);
      } catch (e) {
        this.core.events.emit('error', e);
      }
    }
  }

  /** A method of its own: the closure `read` would otherwise make every dispatch (every put) allocate its context. */
  private tellWatchers(watchers: ReadonlySet<(change: StoredChange, read: () => GetResult | undefined) => void>, change: StoredChange): void {
    let result: GetResult | undefined | null = null;
    const read = () => (result === null ? (result = this.view(change.key, change.rec, this.mergeFor(change.key))?.result) : result);
    for (const cb of watchers) {
      try {
        cb(change, read);
      } catch (e) {
        this.core.events.emit('error', e);
      }
    }
  }

  private changeEvent({ key, rec, origin }: StoredChange): ChangeEvent {
    // One live version (a fresh key, a write over what it saw): its value is the event's, no view to build (nothing
    // to order, merge or count as equal). A value that does not decode goes the view's way, which reports it.
    const v = rec.vs.length === 1 ? rec.vs[0]! : undefined;
    if (v && !v.d) {
      let value: unknown;
      let decoded = true;
      try {
        // The tree the wire read it from, where this is the version decoded last (a live frame joined at once).
        value = takeDecoded(v, NOT_NOTED);
        if (value === NOT_NOTED) value = decodeValue(valueOf(v));
      } catch {
        decoded = false;
      }
      if (decoded) return { key, value, siblings: [value], conflict: false, deleted: false, origin };
    }
    const result = this.view(key, rec, this.mergeFor(key))?.result;
    return result
      ? { key, value: result.value, siblings: result.siblings, conflict: result.conflict, deleted: false, origin }
      : { key, value: undefined, siblings: [], conflict: false, deleted: true, origin };
  }

  /**
   * A view of a record; a throwing merge function is reported and the siblings are shown unmerged. What the view
   * could not do (a typed value whose type is not loaded, a stored value that does not decode) is reported on the
   * replica's `error` event, once per type and per version, and never fails the read.
   */
  private view(key: string, rec: KeyRecord, merge: MergeFn | undefined): View | undefined {
    let view: View | undefined;
    try {
      view = readView(key, this.name, rec, merge);
    } catch (e) {
      if (!(e instanceof MergeError)) throw e;
      this.core.events.emit('error', new ConcordError('MERGE_FAILED', e.message, { cause: e.cause }));
      view = readView(key, this.name, rec, undefined, false);
    }
    if (view?.missingType) this.reportOnce('type:' + view.missingType, () => missingTypeError(view!.missingType!, key));
    for (const e of view?.malformed ?? []) this.reportOnce('bad:' + key + ':' + e.message, () => e);
    return view;
  }

  private reportOnce(what: string, error: () => ConcordError): void {
    if (this.reported.has(what)) return;
    if (this.reported.size > 1000) this.reported.clear();
    this.reported.add(what);
    this.core.events.emit('error', error());
  }

  private async resolve(key: string, rec: KeyRecord): Promise<GetResult | undefined> {
    const view = this.view(key, rec, this.mergeFor(key));
    if (!view?.repair || this.readOnly) return view?.result;
    // Read repair: write the merge back with the context that was read, so it supersedes exactly the merged siblings —
    // and only if the key is still in the state that was read: a write committed meanwhile already superseded
    // (some of) those siblings, and writing their merge beside it would bring them back.
    // Written back over this replica's own delete, a typed value that keeps per-replica entries starts ours anew
    // (ValueType.reopen), computed inside the write (minting.ts: the write's floor names the new entry).
    const merged = view.repair === 'delete' ? undefined : view.result!.value;
    const reopen = merged === undefined ? undefined : typeOf(merged)?.reopen;
    const content: WriteContent = merged === undefined ? { d: true } : { v: encodeValue(merged, this.host.maxValueBytes) };
    const produce = (cur: KeyRecord | undefined): WriteContent | undefined => {
      if (!cur || !sameState(cur, rec)) return undefined;
      return reopen && mintingAfterOwnDelete(this.core.replicaId) ? { v: encodeValue(reopen(merged, this.core.replicaId), this.host.maxValueBytes) } : content;
    };
    const repaired = await this.core.write(this.name, key, produce, rec);
    if (!repaired || view.repair === 'delete') return view.result;
    const after = this.view(key, repaired, undefined)?.result;
    return after && !after.conflict ? { ...view.result!, versions: after.versions, context: after.context } : view.result;
  }

  /**
   * What a write committed at once reports (core.writeNow): its WriteResult, and, while it waits to be durable, that it
   * is in flight for the replica (whenSynced waits for it). One object for the space: a put waiting for its fsync keeps
   * no closure of its own.
   */
  private readonly receiver: WriteReceiver<WriteResult> = {
    settled: (key, ctx, rec) => this.resultOf(key, ctx, rec),
    waiting: (on) => this.host.writing?.(on),
  };

  private resultOf(key: string, ctx: Causal | undefined, rec: KeyRecord | undefined): WriteResult {
    return rec ? new WriteResult(this.core, this.name, key, rec.seq, rec.cc, rec.pts) : new WriteResult(this.core, this.name, key, 0, ctx?.cc ?? {}, ctx?.pts);
  }

  /** Writes `produce`'s content (a put passes the content itself), superseding `ctx` or what the replica holds. */
  private commit(key: string, produce: ((cur: KeyRecord | undefined) => WriteContent | undefined) | WriteContent, ctx?: Causal): Promise<WriteResult> {
    // Where the storage commits at once, the write costs one promise: the one returned (memory: resolved already;
    // files: resolved once the record was fsynced).
    let now: WriteResult | Promise<WriteResult> | typeof LATER;
    try {
      now = this.core.writeNow(this.name, key, produce, ctx, this.receiver);
    } catch (e) {
      return Promise.reject(e);
    }
    if (now instanceof WriteResult) return Promise.resolve(now);
    if (now !== LATER) return now;
    this.host.writing?.(true);
    return this.core.write(this.name, key, produce, ctx).then(
      (rec) => (this.host.writing?.(false), this.resultOf(key, ctx, rec)),
      (e: unknown) => {
        this.host.writing?.(false);
        throw e;
      },
    );
  }

  private assertWritable(): void {
    this.core.assertOpen();
    if (this.readOnly) throw new ConcordError('FORBIDDEN', `space "${this.name}" is read-only here`);
  }
}

/** Where the optional value types live, to name the import in the error. */
const TYPE_MODULES: Record<string, string> = { yjs: 'concord/yjs' };

function missingTypeError(type: string, key: string): ConcordError {
  const module = TYPE_MODULES[type];
  const fix = module ? `load ${module} in this app (one import of it is enough)` : `register the "${type}" value type`;
  return new ConcordError('TYPE_NOT_LOADED', `"${key}" holds concurrent "${type}" values that this replica cannot merge: ${fix}. Until then get() shows them as unmerged siblings (conflict: true) and writes nothing back.`);
}

function contextOption(options: WriteOptions | undefined, takesEpochs: boolean): Causal | undefined {
  if (options?.context === undefined) return undefined;
  const ctx = decodeCausal(options.context);
  if (!ctx) throw new ConcordError('INVALID_CONTEXT', 'context is not one returned by get() or put()');
  // Points naming epochs are judged by the write path (ReplicaCore.epochs) and stored, where the replica takes them
  // (it tags, or speaks protocol 11: its reads may return them). Elsewhere no read returns one, and a state holding
  // one could not go to its peers: refused as before.
  if (ctx.pts !== undefined && !takesEpochs) throw new ConcordError('INVALID_CONTEXT', 'context names epochs, which this replica does not take (it speaks no protocol that carries them)');
  return ctx;
}
