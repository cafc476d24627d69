/**
 * `openReplica`: the entry point. A replica owns one storage, mints its replicaId when the storage is empty,
 * and hands out spaces. Sync links attach to it with `connect`.
 */
import { ReplicaCore, type CoreEvents } from './core.js';
import { ConcordError } from './errors.js';
import { patternTable, type Pattern } from './pattern.js';
import { checkSpaceName, Space, type SpaceHost, type SpaceOptions } from './space.js';
import type { StorageAdapter } from './storage.js';
import type { MergeFn, MergeTable, ReplicaStatus } from './types.js';
import { DEFAULT_MAX_VALUE_BYTES } from './values.js';

export interface ReplicaOptions {
  storage: StorageAdapter;
  /** Merge functions by key pattern, for every space. */
  merge?: MergeTable;
  /** Values encoding to more bytes are refused at `put` (default 1 MiB). */
  maxValueBytes?: number;
  /** Wall clock in milliseconds (injected in tests and simulations). */
  now?: () => number;
}

export interface ReplicaEvents {
  error: unknown;
  status: ReplicaStatus;
}

export async function openReplica(options: ReplicaOptions): Promise<Replica> {
  if (!options || typeof options.storage?.transact !== 'function') {
    throw new ConcordError('INVALID_OPTION', 'openReplica({ storage }) needs a storage adapter, e.g. memoryStorage()');
  }
  const maxValueBytes = options.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES;
  if (!Number.isSafeInteger(maxValueBytes) || maxValueBytes <= 0) {
    throw new ConcordError('INVALID_OPTION', 'maxValueBytes must be a positive integer');
  }
  const core = await ReplicaCore.open({ storage: options.storage, ...(options.now ? { now: options.now } : {}) });
  return new Replica(core, patternTable(options.merge), maxValueBytes);
}

export class Replica implements SpaceHost {
  private readonly spaces = new Map<string, Space>();
  private readonly readOnlySpaces = new Set<string>();
  private currentStatus: ReplicaStatus = 'offline';

  /** @internal use openReplica() */
  constructor(
    readonly core: ReplicaCore,
    readonly merges: readonly Pattern<MergeFn>[],
    readonly maxValueBytes: number,
  ) {
    core.events.on('change', (change) => this.spaces.get(change.space)?.dispatch(change));
  }

  get replicaId(): string {
    return this.core.replicaId;
  }

  get status(): ReplicaStatus {
    return this.currentStatus;
  }

  /** The space of that name (the same object on every call); options given again replace the earlier ones. */
  space(name: string, options?: SpaceOptions): Space {
    checkSpaceName(name);
    let space = this.spaces.get(name);
    if (!space) this.spaces.set(name, (space = new Space(this, name, options)));
    else if (options) space.configure(options);
    return space;
  }

  /** @internal */
  openSpaces(): IterableIterator<Space> {
    return this.spaces.values();
  }

  isReadOnly(space: string): boolean {
    return this.readOnlySpaces.has(space);
  }

  on<K extends keyof ReplicaEvents>(type: K, listener: (payload: ReplicaEvents[K]) => void, options?: { signal?: AbortSignal }): () => void {
    return this.core.events.on(type as keyof CoreEvents, listener as (payload: CoreEvents[keyof CoreEvents]) => void, options);
  }

  async close(): Promise<void> {
    await this.core.close();
  }
}
