/**
 * What a write answers: the key's context right after it, its durability now, and promises of it reaching a relay
 * (`synced`) or several (`replicated`), from the acknowledgements the replica tracks (acks.ts).
 */
import type { ReplicaCore } from './core.js';
import { encodeContext, type EpochPoints, type VersionVector } from './dvv.js';
import type { Context, Durability } from './types.js';

/** The outcome of a write: durable locally when you hold it. */
export class WriteResult {
  private syncedPromise: Promise<void> | undefined;
  private contextText: Context | undefined;
  /** Seen synced once: it stays so (a later write of the key, not acknowledged yet, would otherwise say 'local'). */
  private wasSynced = false;
  /**
   * `synced` resolved: the acknowledgement was checked against where the key's record is now (acks.ts `where`). The
   * status's own judgement (`wasSynced`, from the pending-writes map, which hears of a record only once it is durable)
   * does not stand in for it: a key moved to a record not durable yet still sits at the acknowledged seq there.
   */
  private confirmed = false;
  /**
   * `replicated(n ≥ 2)` resolved (it reads where the key's record is now). The status says 'replicated' only then: a
   * relay's report past the write's own seq says nothing of a key written again before it (acks.ts), and the status
   * cannot wait for a read; so a report covering the write starts that check (`checking`) and the status follows it.
   */
  private wasReplicated = false;
  private checking: Promise<void> | undefined;

  constructor(
    private readonly core: ReplicaCore,
    readonly space: string,
    readonly key: string,
    /** The write's position in this replica's change log (0 for a write that changed nothing). */
    readonly seq: number,
    private readonly cc: VersionVector,
    /** The context's points naming epochs, if it holds any (dvv.ts KeyState.pts). */
    private readonly pts?: EpochPoints,
  ) {}

  /** The causal context of the key right after this write. */
  get context(): Context {
    return (this.contextText ??= encodeContext(this.cc, this.pts));
  }

  /** 'local', 'synced' (a relay or peer stored it), or 'replicated' (relays report at least two of them hold it). */
  get durability(): Durability {
    if (this.seq === 0) return 'synced';
    if (this.wasReplicated) return 'replicated';
    if (!this.checking && this.core.acks.replicatedCount(this.space, this.seq) >= 2) this.checking = this.replicated(2);
    if (!this.wasSynced) this.wasSynced = this.confirmed || this.core.acks.isSynced(this.space, this.key, this.seq);
    return this.wasSynced ? 'synced' : 'local';
  }

  /**
   * Resolves once at least `relays` relays of a cluster hold the write (or a later state of the key), as
   * reported by the relay this replica syncs with. Never rejects; it stays pending while fewer relays are
   * reachable (race it with a timeout if needed). A write that changed nothing resolves at once.
   */
  replicated(relays = 2): Promise<void> {
    if (this.seq === 0) return Promise.resolve();
    return this.core.acks.waitReplicated(this.space, this.seq, relays, this.key).then(() => {
      // Held by a relay: synced too (the same read placed the key).
      this.confirmed = this.wasSynced = true;
      if (relays >= 2) this.wasReplicated = true;
    });
  }

  /** Resolves once a relay or peer stored the write (or a later state of the key). Never rejects. */
  get synced(): Promise<void> {
    if (this.syncedPromise) return this.syncedPromise;
    if (this.seq === 0) return (this.syncedPromise = Promise.resolve());
    return (this.syncedPromise = this.core.acks.wait(this.space, this.seq, this.key).then(() => void (this.confirmed = this.wasSynced = true)));
  }
}
