/**
 * Changes committed by other instances sharing the storage (tabs): when the storage hints at them, read from the
 * change log by sequence and reported like this instance's own, so subscribers fire and the instance holding the
 * links pushes them.
 *
 * Invariants: per space, a mark up to which the log has been read (per space, because a hint names spaces: a
 * replica-wide mark advanced while reading one space would skip what another received meanwhile); nothing at or
 * below the sequence at open is reported; a sequence this instance committed itself is never reported again.
 */
import type { CoreEvents } from './core.js';
import type { Emitter } from './events.js';
import type { HybridClock } from './hlc.js';
import type { StorageAdapter } from './storage.js';

/** What of the replica core this reads and tells (ReplicaCore is one). */
export interface ExternalHost {
  readonly storage: StorageAdapter;
  readonly clock: HybridClock;
  readonly events: Emitter<CoreEvents>;
  readonly replicaId: string;
  readonly isClosed: boolean;
  /** Another instance may have re-identified the replica. */
  refreshIdentity(): Promise<void>;
  /** Every transaction up to `seq` committed and is durable. */
  committed(seq: number): void;
  /** Another instance shares the storage and committed something (its dots are not this instance's to know). */
  heardOthers(): void;
}

export class ExternalChanges {
  private readonly marks = new Map<string, number>();
  /** Per space, sequences this instance committed past the space's mark. */
  private readonly own = new Map<string, Set<number>>();
  private queue: Promise<void> = Promise.resolve();
  private readonly stopWatching: (() => void) | undefined;

  constructor(
    private readonly host: ExternalHost,
    /** The log's sequence at open. */
    private readonly openSeq: number,
  ) {
    this.stopWatching = host.storage.onExternalChange?.((spaces) => {
      host.heardOthers();
      this.queue = this.queue.then(() => this.read(spaces)).catch((e) => host.events.emit('error', e));
    });
  }

  /** This instance committed `seq` in `space` (not to be reported again when read from the log). */
  noteOwn(space: string, seq: number): void {
    if (!this.host.storage.onExternalChange || seq <= (this.marks.get(space) ?? this.openSeq)) return;
    let own = this.own.get(space);
    if (!own) this.own.set(space, (own = new Set()));
    own.add(seq);
  }

  /**
   * Reads `space`'s log now, as a hint would have it read (core.ts whenDurable): a record another instance committed is
   * known durable here only once read, and its hint may be lost or late.
   */
  poke(space: string): void {
    if (!this.host.storage.onExternalChange) return;
    this.queue = this.queue.then(() => this.read([space])).catch((e) => this.host.events.emit('error', e));
  }

  /** Stops listening, once what was heard has been read. */
  async close(): Promise<void> {
    this.stopWatching?.();
    await this.queue;
  }

  private async read(spaces: readonly string[]): Promise<void> {
    const host = this.host;
    if (host.isClosed) return;
    const top = (await host.storage.getMeta<number>('seq')) ?? 0;
    // Another instance may have re-identified this replica.
    await host.refreshIdentity();
    // `top` is the log's top as committed, not as durable: the hint may be this instance's own (its read was held back,
    // and the write that lifted the hold is durable now), while a later write of its own waits for its fsync — a storage
    // whose durability lags the commit counts that write in `top` already. So what is durable is what the log read
    // returns (durable records only, and storage makes transactions durable in order): every transaction up to a record
    // read is durable, and only that is told (before the record's change, as a write's own is).
    for (const space of new Set(spaces)) {
      const mark = this.marks.get(space) ?? this.openSeq;
      if (top <= mark) continue;
      const own = this.own.get(space);
      // How far the log was read: a read stops short of `top` where records are not durable yet, or where a key's
      // durable record sits while its newer one is not (StorageAdapter readLog); the rest is read at a later hint.
      let read = mark;
      for (let after = mark; ; ) {
        const page = await host.storage.readLog(space, after, 512);
        if (page.length > 0) host.committed(page[page.length - 1]![1].seq);
        for (const [key, rec] of page) {
          if (rec.seq > top) continue;
          read = Math.max(read, rec.seq);
          if (own?.has(rec.seq)) continue;
          const mine = rec.vs.some((v) => v.r === host.replicaId && v.n === rec.seq);
          for (const v of rec.vs) host.clock.observe(v.t, v.c);
          host.events.emit('change', { space, key, rec, prev: undefined, origin: mine ? 'local' : 'remote', external: true });
        }
        if (page.length < 512) break;
        after = page[page.length - 1]![1].seq;
      }
      this.marks.set(space, read);
      if (own) for (const seq of own) if (seq <= read) own.delete(seq);
    }
  }
}
