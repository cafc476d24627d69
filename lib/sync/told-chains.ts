/**
 * What a link's receiver holds of epoch chains, on the sender's side (epoch-wire.ts: a frame names such an epoch by its
 * label alone). Moved out of epoch-wire.ts as it was.
 */
import type { EpochSide } from './epoch-wire.js';

/** Chains held at most by a link's `ToldChains` (past it, chains go whole as before). */
const MAX_TOLD = 4096;

/**
 * What a link's receiver holds, on the sender's side: (replica, epoch) pairs whose chain a frame sent on the link
 * carried (the receiver learns them once the frame decoded whole, or refuses it and the link closes), or that it holds
 * otherwise (our own chain once it went: epoch-chain.ts). A frame names such an epoch by its label alone. Noted as
 * frames are encoded, kept only for frames that go (`commit`; `rollback` for one that does not).
 */
export class ToldChains {
  private readonly held = new Set<string>();
  private pending: string[] = [];
  private plain: EpochSide | undefined;

  /** `others`: the receiver learns our records of other replicas' epochs (it trusts us as its relay); else only ours. */
  constructor(
    readonly me: string,
    readonly others: boolean,
  ) {}

  has(r: string, e: string): boolean {
    return this.held.has(`${r}\n${e}`);
  }

  /** A chain of `r` a frame being encoded carries. */
  note(r: string, e: string): void {
    if ((r === this.me || this.others) && this.held.size + this.pending.length < MAX_TOLD) this.pending.push(`${r}\n${e}`);
  }

  /** Held outright (the receiver learned them otherwise): our own epochs once our chain went. */
  hold(r: string, epochs: readonly string[]): void {
    for (const e of epochs) if (this.held.size < MAX_TOLD) this.held.add(`${r}\n${e}`);
  }

  /** A frame being encoded names a dot of `side`'s sender untagged: the side turns plain once the frame goes. */
  turnsPlain(side: EpochSide): void {
    this.plain = side;
  }

  commit(): void {
    for (const k of this.pending) this.held.add(k);
    this.pending = [];
    if (this.plain) this.plain.plain = true;
    this.plain = undefined;
  }

  rollback(): void {
    this.pending = [];
    this.plain = undefined;
  }
}
