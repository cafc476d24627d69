/**
 * `w.synced` of a write made in a tab that does not hold the network role, for keys saved faster than
 * acknowledgements come back (a document being typed in). Only the leader hears its peers, and an acknowledgement
 * says "I hold your log up to u": a write whose key was saved again since sits past u every time it is looked at. The
 * leader knows more — which log frames carried the key (acks.ts `sentFrame`, `held`) — but notes that only for keys
 * somebody waits on. So:
 *
 *   follower  waits   I wait on these keys of a space (each waiter made; all of them again to a new leader)
 *   leader    held    a peer holds these keys' states as of these log positions (an acknowledged frame carried them)
 *   leader    withheld  a link to this peer left these keys out (acks.ts `withhold`): its acknowledgements do not
 *                     count them until their record changes — sent when it happens, so before any acknowledgement
 *                     it bears on, and all of them before each 'state' (whose acknowledgements a new tab applies);
 *                     with how far peers whose links sent them hold our log (also when that rises, batched)
 *
 * 'waits' and 'held' are best effort, like every message between instances: a lost one leaves the waiter where it was before this
 * (resolved by an acknowledgement past its key's record), and the next waiter made on the key asks again.
 */
import type { AckTracker } from '../acks.js';

export type WaitsBody =
  | { t: 'waits'; space: string; keys: string[] }
  | { t: 'held'; space: string; held: Array<[string, number]> }
  | { t: 'withheld'; space: string; items: Array<[key: string, peer: string, elsewhere?: number]> };

const MAX_KEYS = 10_000;
const MAX_KEY_CHARS = 1024; // MAX_KEY_BYTES (space.ts): no key has more characters

export class TabWaits {
  private waits: Map<string, Set<string>> | undefined;
  private helds: Map<string, Map<string, number>> | undefined;
  /** space → key → [a peer it is withheld from, how far others hold it]: risen `elsewhere`s not posted yet. */
  private elsewheres: Map<string, Map<string, [string, number]>> | undefined;
  private readonly stops: Array<() => void>;

  constructor(
    private readonly acks: AckTracker,
    private readonly post: (body: WaitsBody) => void,
    private readonly isLeader: () => boolean,
  ) {
    this.stops = [
      acks.onWait((space, key) => void (!this.isLeader() && this.queueWait(space, [key]))),
      acks.onHeld((space, key, at) => void (this.isLeader() && this.queueHeld(space, key, at))),
      acks.onWithhold((peer, space, key, elsewhere, fresh) => {
        if (!this.isLeader()) return;
        if (fresh) this.postWithheld([[space, key, peer, elsewhere]]);
        else this.queueElsewhere(space, key, peer, elsewhere);
      }),
    ];
  }

  /** Another instance took the network role: it learns every key waited on here. */
  newLeader(): void {
    for (const [space, keys] of this.acks.waitedKeys()) this.queueWait(space, keys);
  }

  /** This instance gave the role up: what the others waited on is for the next leader to note. */
  resigned(): void {
    this.acks.forgetRemoteWaits();
  }

  /** The leader is about to post its state: every key withheld goes first. */
  beforeState(): void {
    const all = this.acks.withheldList();
    if (all.length > 0) this.postWithheld(all);
  }

  receive(m: WaitsBody): void {
    if (m.t === 'withheld') {
      // From any leader, past or present: the peer's cursor passed the key all the same.
      // `elsewhere`: how far peers whose links sent it hold our log (their sessions may have ended since).
      for (const [key, peer, elsewhere] of m.items) {
        this.acks.withhold(peer, m.space, key);
        if (elsewhere) this.acks.heldElsewhere(m.space, key, elsewhere);
      }
      return;
    }
    if (m.t === 'waits') {
      if (this.isLeader()) this.acks.remoteWait(m.space, m.keys);
      return;
    }
    for (const [key, at] of m.held) this.acks.held(m.space, key, at);
    // The leader notes a key until it told what the peer holds of it: writes of it still waited on ask again.
    const again = m.held.filter(([key]) => this.acks.waitsOn(m.space, key)).map(([key]) => key);
    if (again.length > 0 && !this.isLeader()) this.queueWait(m.space, again);
  }

  close(): void {
    for (const stop of this.stops.splice(0)) stop();
  }

  private queueWait(space: string, keys: readonly string[]): void {
    if (!this.waits) {
      this.waits = new Map();
      queueMicrotask(() => {
        const all = this.waits!;
        this.waits = undefined;
        for (const [s, set] of all) for (let i = 0, list = [...set]; i < list.length; i += MAX_KEYS) this.post({ t: 'waits', space: s, keys: list.slice(i, i + MAX_KEYS) });
      });
    }
    const set = this.waits.get(space) ?? this.waits.set(space, new Set()).get(space)!;
    for (const key of keys) set.add(key);
  }

  /**
   * At once, not batched: an acknowledgement that arrives later must reach the others after it (one sender's messages
   * keep their order).
   */
  private postWithheld(list: ReadonlyArray<readonly [space: string, key: string, peer: string, elsewhere: number]>): void {
    const bySpace = new Map<string, Array<[string, string, number]>>();
    for (const [space, key, peer, elsewhere] of list) (bySpace.get(space) ?? bySpace.set(space, []).get(space)!).push([key, peer, elsewhere]);
    for (const [space, items] of bySpace) for (let i = 0; i < items.length; i += MAX_KEYS) this.post({ t: 'withheld', space, items: items.slice(i, i + MAX_KEYS) });
  }

  /**
   * A withheld key's `elsewhere` rose (an acknowledgement by a peer whose link sent it): batched, one message per turn
   * (acknowledgements come per frame), and order does not matter (a follower weighs its keys again on receipt).
   */
  private queueElsewhere(space: string, key: string, peer: string, elsewhere: number): void {
    if (!this.elsewheres) {
      this.elsewheres = new Map();
      queueMicrotask(() => {
        const all = this.elsewheres!;
        this.elsewheres = undefined;
        const list: Array<[string, string, string, number]> = [];
        for (const [s, keys] of all) for (const [k, [p, e]] of keys) list.push([s, k, p, e]);
        if (this.isLeader()) this.postWithheld(list);
      });
    }
    const keys = this.elsewheres.get(space) ?? this.elsewheres.set(space, new Map()).get(space)!;
    keys.set(key, [peer, elsewhere]);
  }

  private queueHeld(space: string, key: string, at: number): void {
    if (!this.helds) {
      this.helds = new Map();
      queueMicrotask(() => {
        const all = this.helds!;
        this.helds = undefined;
        for (const [s, m] of all) for (let i = 0, list = [...m]; i < list.length; i += MAX_KEYS) this.post({ t: 'held', space: s, held: list.slice(i, i + MAX_KEYS) });
      });
    }
    const m = this.helds.get(space) ?? this.helds.set(space, new Map()).get(space)!;
    m.set(key, Math.max(m.get(key) ?? 0, at));
  }
}

const isKey = (x: unknown): x is string => typeof x === 'string' && x.length > 0 && x.length <= MAX_KEY_CHARS;
const isPeer = (x: unknown): x is string => typeof x === 'string' && x.length <= 64;
const isWithheld = (x: unknown): x is [string, string, number?] =>
  Array.isArray(x) && (x.length === 2 || (x.length === 3 && Number.isSafeInteger(x[2]) && (x[2] as number) >= 0)) && isKey(x[0]) && isPeer(x[1]);
const isHeld = (x: unknown): x is [string, number] =>
  Array.isArray(x) && x.length === 2 && isKey(x[0]) && typeof x[1] === 'number' && Number.isSafeInteger(x[1]) && x[1] > 0;

/** The body of a 'waits', 'held' or 'withheld' message from another instance (which may run another version), or undefined. */
export function parseWaits<B extends object>(m: Record<string, unknown>, isName: (s: unknown) => s is string, base: B): (B & WaitsBody) | undefined {
  if (!isName(m.space) || (m.t !== 'waits' && m.t !== 'held' && m.t !== 'withheld')) return undefined;
  if (m.t === 'withheld') {
    return Array.isArray(m.items) && m.items.length <= MAX_KEYS && m.items.every(isWithheld) ? { ...base, t: 'withheld', space: m.space, items: m.items as Array<[string, string, number?]> } : undefined;
  }
  if (m.t === 'waits') return Array.isArray(m.keys) && m.keys.length <= MAX_KEYS && m.keys.every(isKey) ? { ...base, t: 'waits', space: m.space, keys: m.keys as string[] } : undefined;
  return Array.isArray(m.held) && m.held.length <= MAX_KEYS && m.held.every(isHeld) ? { ...base, t: 'held', space: m.space, held: m.held as Array<[string, number]> } : undefined;
}
