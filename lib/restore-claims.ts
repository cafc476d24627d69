/**
 * Restore detection from the data itself (DESIGN.md: "a dot names exactly one value").
 *
 * A replica's own counters never pass its log's top: every dot it mints is the log's next seq. A received state
 * whose context (or a version) names a counter of ours beyond that top therefore shows a history of ours this
 * storage does not hold: it was restored from an older copy, or copied, or the state is forged. The direct witness
 * (a peer's hello saying what we delivered, epochs.ts; a relay's attestation, attest.ts) is usually what tells a
 * restored replica; this is what tells it when that witness lost its memory too — a client and its only relay
 * both restored from copies older than what the client delivered, while other clients kept what it wrote (N4).
 * Left alone, the writes it made since the restore reuse those dots and are dropped wherever the lost writes'
 * contexts are held. A lost write can also come back as a version under a counter we have minted again since, for
 * another key: its key's state here never saw that dot, which no write of ours can leave behind (impossibleClaim).
 *
 * Such a claim makes the replica re-identify (reidentify.ts) with its latest open as the restore point (a copy is
 * restored and then opened): the writes since are re-issued under a new id, and the joins that dropped some of
 * them had noted them (dropped-own.ts). The claim and its point are stored in the transaction that joined it, so a
 * crash before the re-identification still runs it at the next open (whose new epoch would otherwise move the
 * point).
 *
 * A forged claim can do the same: a writer that knows our id can make us re-identify. It costs a new id and our
 * writes since the open re-issued as siblings of their old copies (duplicates where peers hold them); nothing is
 * lost. It happens at most once per open: a replica that opened under a fresh id (a relay, `restored`), that has
 * never been opened before, or that re-identified in this open cannot be shown a genuine claim until it is
 * opened again — no copy of it can exist yet — so it ignores them (SECURITY.md).
 */
import { coversDot, EMPTY_STATE, type KeyState } from './dvv.js';
import { NO_EPOCHS, type EpochRegistry } from './epoch-points.js';
import { restorePoint, type EpochEntry } from './epochs.js';

/** Storage meta naming a claim seen and not yet acted on. */
export const CLAIM_META = 'restoreClaim';

export interface RestoreClaim {
  /** The replica id the claim was about (a claim about an id we no longer write under is moot). */
  id: string;
  /** The restore point: own dots past it are re-issued. */
  point: number;
}

/**
 * What a replica core watches for in this open: whether claims count at all (not after opening under a fresh id, at
 * a first open, or once the id changed or a claim was acted on), and the dots this instance minted since the open
 * where it alone has the storage open.
 */
export class ClaimWatch {
  private own: OwnDots | undefined;

  constructor(
    private on: boolean,
    alone: boolean,
    openedAt: number,
  ) {
    if (on && alone) this.own = new OwnDots(openedAt);
  }

  get watching(): boolean {
    return this.on;
  }

  /** This instance minted its own dot `seq`. */
  minted(seq: number): void {
    this.own?.mark(seq);
  }

  /** Another instance shares the storage: the dots minted since the open are no longer all known here. */
  heardOthers(): void {
    this.own = undefined;
  }

  /** No claim counts for the rest of this open. */
  stop(): void {
    this.on = false;
    this.own = undefined;
  }

  /**
   * Inside a join's transaction, before it mints anything: the claim the received states make about replica `me`,
   * whose log's top is `top` and history `history` (the restore point is its latest open), if any.
   */
  check(
    states: ReadonlyArray<readonly [string, KeyState]>,
    held: ReadonlyArray<KeyState | undefined>,
    me: string,
    top: number,
    history: readonly EpochEntry[],
    reg: EpochRegistry = NO_EPOCHS,
  ): RestoreClaim | undefined {
    if (!this.on || impossibleClaim(states, me, top, this.own, held, reg) === 0) return undefined;
    return { id: me, point: forkBefore(restorePoint(history, top, undefined), states, held, me, history, reg) };
  }
}

/** Log seqs tracked past the open (1 MiB of bits); past them a claim is checked against the top only. */
const MAX_TRACKED = 1 << 23;

/**
 * Which log seqs since the open are dots this instance minted (a bit per seq). A context names only dots its
 * writer minted (a counter enters a context with its version), so a received counter of ours past the open that
 * is not one of them names a dot of a history this storage lost, even when our log has grown past it since (joins
 * take log seqs too). Kept only where no other instance shares the storage (their dots would be missing here).
 */
export class OwnDots {
  private bits = new Uint8Array(256);

  constructor(readonly base: number) {}

  mark(seq: number): void {
    const i = seq - this.base - 1;
    if (i < 0 || i >= MAX_TRACKED) return;
    if (i >> 3 >= this.bits.length) {
      const grown = new Uint8Array(Math.min(MAX_TRACKED >> 3, Math.max(this.bits.length * 2, (i >> 3) + 1)));
      grown.set(this.bits);
      this.bits = grown;
    }
    this.bits[i >> 3]! |= 1 << (i & 7);
  }

  /** Whether `seq` may be a dot we minted (seqs up to the open, and those past what is tracked, may be). */
  mayBeOurs(seq: number): boolean {
    const i = seq - this.base - 1;
    if (i < 0 || i >= MAX_TRACKED) return true;
    return i >> 3 < this.bits.length && (this.bits[i >> 3]! & (1 << (i & 7))) !== 0;
  }
}

/**
 * The highest counter of replica `me` that the states name (in their contexts and versions) and that cannot be a dot
 * of this storage's history, 0 if none: past the log's `top`; past the open and not minted here (`own`); or, for a
 * version of ours, one that our own state of its key (`held[i]`, as stored) does not cover.
 *
 * The last holds because a dot of ours is minted for one key, in the transaction that stores it into that key's
 * state, and a key's context never shrinks here (joins merge it, tombstone collection keeps it): a version of ours
 * that our state of its key has not seen was minted for that key by a history this storage does not hold — a lost
 * write come back after a restore, even when its counter is one we minted again since for another key (the one case
 * neither other test sees). Contexts alone are not judged this way: an app may write a key with another key's
 * context, so a context can name counters of ours that key never held.
 */
export function impossibleClaim(
  states: ReadonlyArray<readonly [string, KeyState]>,
  me: string,
  top: number,
  own: OwnDots | undefined,
  held?: ReadonlyArray<KeyState | undefined>,
  reg: EpochRegistry = NO_EPOCHS,
): number {
  let worst = 0;
  const check = (n: number) => {
    if (n > worst && (n > top || (own !== undefined && !own.mayBeOurs(n)))) worst = n;
  };
  for (let i = 0; i < states.length; i++) {
    const s = states[i]![1];
    const c = s.cc[me];
    if (typeof c === 'number') check(c);
    for (const v of s.vs) {
      if (v.r !== me) continue;
      check(v.n);
      if (held && v.n > worst && !coversDot(reg, held[i] ?? EMPTY_STATE, me, v.ep, v.n)) worst = v.n;
    }
  }
  return worst;
}

/**
 * The restore point of a claim: the latest open (a copy is restored, then opened), or an earlier open where the
 * received states show the lost history parting from ours before it. A state of key k naming a counter `n` of ours
 * (in its context or as a version) that our own state of k has not seen, at or below the point, shows a history
 * that minted a dot of k at or below `n` where ours did not — so the two parted before `n`, at an open no later
 * than that (a copy restored and opened, then opened again before it met anyone: its latest open is too late).
 * Contexts count here though they never make a claim (an app may write a key with another key's context): at
 * worst they move the point earlier, and the writes re-issued past it come back as duplicates, never as losses.
 */
export function forkBefore(
  point: number,
  states: ReadonlyArray<readonly [string, KeyState]>,
  held: ReadonlyArray<KeyState | undefined>,
  me: string,
  history: readonly EpochEntry[],
  reg: EpochRegistry = NO_EPOCHS,
): number {
  let p = point;
  const parted = (n: number) => {
    if (n > p) return;
    for (let j = history.length - 1; j >= 0; j--) {
      if (history[j]![1] < n) {
        p = Math.min(p, history[j]![1]);
        return;
      }
    }
    p = 0;
  };
  for (let i = 0; i < states.length; i++) {
    const s = states[i]![1];
    const mine = held[i] ?? EMPTY_STATE;
    // A context's counter against ours (cc: the highest counter of a replica's points); a version by whole dot, as the
    // registry judges our points (the vector alone would take a dot of a lost branch for one our state has seen).
    const seen = mine.cc[me] ?? 0;
    const c = s.cc[me];
    if (typeof c === 'number' && c > seen) parted(c);
    for (const v of s.vs) if (v.r === me && !coversDot(reg, mine, me, v.ep, v.n)) parted(v.n);
  }
  return p;
}

export function readClaim(value: unknown): RestoreClaim | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { id, point } = value as Partial<RestoreClaim>;
  if (typeof id !== 'string' || !Number.isSafeInteger(point)) return undefined;
  return { id, point: point! };
}
