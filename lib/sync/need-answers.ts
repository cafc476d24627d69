/**
 * The answers to a peer's NEED (it could not resolve our deltas of some keys): their whole states, as repair frames,
 * and whole from then on. An answer waits for room in the session's repair window, which only the peer's ACKs make,
 * and the session's inbox is what reads them: so answers go on a queue of their own, never awaited by the inbox (a NEED
 * asking for more than the window held stalled the session for good, test/relay/need-window.test.ts).
 */
import { EMPTY_STATE, namesEpochs, stateOf } from '../dvv.js';
import type { ReplicaCore } from '../core.js';
import { isTypeName } from '../typed.js';
import { ProtocolError, type Reader, type Writer } from './codec.js';
import { key, space } from './fields.js';
import type { Entry, Need } from './messages.js';

/** NEED's wire form: space, then the keys, each with why ('' or a type name). */
export function writeNeed(w: Writer, m: Need): void {
  w.str(m.space);
  w.uint(m.keys.length);
  for (const [k, t] of m.keys) {
    w.str(k);
    w.str(t);
  }
}

export function readNeed(r: Reader): Omit<Need, 'type'> {
  const s = space(r);
  const n = r.count(2);
  const keys: Array<readonly [string, string]> = [];
  for (let i = 0; i < n; i++) {
    const k = key(r);
    const t = r.str();
    if (t !== '' && !isTypeName(t)) throw new ProtocolError('invalid type name');
    keys.push([k, t]);
  }
  return { space: s, keys };
}

export interface NeedPort {
  /** From now on, send these keys' versions whole. */
  needWhole(key: string, type: string): void;
  /** The top of our durable log in the space (what may leave this replica). */
  lastSeq(): Promise<number>;
  /** Sends repair states once the repair window has room. */
  sendRepair(entries: Entry[]): Promise<void>;
  /** Whether the link carries states naming epochs (both hellos announced protocol 11). */
  carriesEpochs(): boolean;
  fail(e: unknown): void;
}

export class NeedAnswers {
  private queue: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: ReplicaCore,
    private readonly space: string,
    private readonly port: NeedPort,
  ) {}

  /** Takes a NEED: the keys go whole at once; their states are queued to go. */
  take(m: Need): void {
    for (const [k, type] of m.keys) this.port.needWhole(k, type);
    const keys = [...new Set(m.keys.map(([k]) => k))];
    this.queue = this.queue.then(() => this.answer(keys)).catch((e) => this.port.fail(e));
  }

  private async answer(keys: readonly string[]): Promise<void> {
    const lastSeq = await this.port.lastSeq();
    const entries: Entry[] = [];
    for (const k of keys) {
      const rec = await this.core.storage.get(this.space, k);
      // Not durable yet: the log stream sends it (whole) once it is.
      if (rec && rec.seq > lastSeq) continue;
      entries.push([k, rec ? stateOf(rec) : { vs: [], cc: {} }]);
    }
    for (let i = 0; i < entries.length; i += 16) await this.port.sendRepair(entries.slice(i, i + 16));
    // A state naming an epoch never reaches a peer below 11 (wire.ts leaves it out, withheld, and its context alone goes
    // only where it has one): that peer holds its cursor and every ACK back until the key comes whole, so it would wait
    // for good. Such a key is answered as nothing after it (as its anti-entropy claim goes, old-peers.ts): the peer
    // resolves it, joins nothing, and its cursor moves on; what it lacks stays withheld here, not counted acknowledged.
    if (this.port.carriesEpochs()) return;
    const none = entries.filter(([, st]) => namesEpochs(st)).map(([k]): Entry => [k, EMPTY_STATE]);
    for (let i = 0; i < none.length; i += 16) await this.port.sendRepair(none.slice(i, i + 16));
  }
}
