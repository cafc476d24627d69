/**
 * What a space's log stream (outgoing.ts) and its anti-entropy (repair.ts) see of the space and its session
 * (space-sync.ts): their ports, read live (the getters read the session's and the space's state at each use).
 *
 * Classes, not object literals: a literal with getters holds a closure of its own per getter, so V8 keeps each such
 * port in dictionary mode (no shared shape), and every read of it — `closed`, `peerId`, `send`, each a relay's every
 * delivery on every link — went through the generic property lookup (Builtins_LoadIC: 8 % of the relay thread's CPU
 * in S7, perf over real sockets). A class's instances share one shape; its getters sit on the prototype.
 */
import type { AntiEntropyRun } from '../core.js';
import { sameDot, type KeyState } from '../dvv.js';
import type { EpochRegistry } from '../epoch-points.js';
import type { KeyRecord } from '../storage.js';
import { BACKLOG_TOP, COMPACT_AE, FAST_PATH, MsgType, type AntiEntropy, type Changes, type Entry } from './messages.js';
import type { StreamPort } from './outgoing.js';
import type { RunEnd } from './repair.js';
import type { RepairPort } from './repair-port.js';
import type { RepairAcks } from './repair-acks.js';
import type { SessionPort } from './space-sync.js';
import { EPOCH_DOTS } from './epoch-wire.js';
import { streamAcked } from './withheld-passed.js';
import { claimedContext } from './fit-state.js';
import { WIDE_ACKS } from './ack-policy.js';

/** Whether two states hold versions of the same dots. */
const sameVersions = (a: KeyState, b: KeyState) => a.vs.length === b.vs.length && a.vs.every((v) => b.vs.some((u) => sameDot(u, v)));

/** What the ports read of the space. */
export interface SpaceView {
  readonly repairAcks: RepairAcks;
  /** Whether we send our states (not a client the relay granted read only). */
  readonly offers: boolean;
  /** Whether our hello announced `version`. */
  announced(version: number): boolean;
  /** Whether both hellos announced `version`. */
  spoken(version: number): boolean;
  repairEnded(run: AntiEntropyRun, info: RunEnd): Promise<void>;
}

export function streamPort(name: string, session: SessionPort, space: SpaceView): StreamPort {
  return new SpaceStreamPort(name, session, space);
}

class SpaceStreamPort implements StreamPort {
  readonly frameBudget: number;

  constructor(
    private readonly name: string,
    private readonly session: SessionPort,
    private readonly space: SpaceView,
  ) {
    this.frameBudget = session.frameBudget;
  }

  get closed(): boolean {
    return this.session.closed;
  }

  get peerId(): string {
    return this.session.peer?.replicaId ?? '';
  }

  get wide(): boolean {
    return this.space.spoken(WIDE_ACKS);
  }

  send(m: Changes): number {
    return this.session.send(m);
  }

  readLog(after: number, limit: number): Promise<Array<[string, KeyRecord]>> {
    return this.session.core.storage.readLog(this.name, after, limit);
  }

  lastSeq(): number {
    return this.session.hub.lastSeqNow(this.name);
  }

  acked(upTo: number, resumed?: boolean): void {
    streamAcked(this.session, this.name, upTo, resumed, this.space.repairAcks);
  }

  tellTop(top: number): void {
    if (this.space.spoken(BACKLOG_TOP)) this.session.send({ type: MsgType.Top, space: this.name, top });
  }

  refreshStatus(): void {
    this.session.refreshStatus();
  }

  fail(e: unknown): void {
    this.session.fail(e);
  }
}

export function repairPort(name: string, session: SessionPort, space: SpaceView): RepairPort {
  return new SpaceRepairPort(name, session, space);
}

class SpaceRepairPort implements RepairPort {
  readonly frameBudget: number;
  readonly epochs: EpochRegistry;

  constructor(
    private readonly name: string,
    private readonly session: SessionPort,
    private readonly space: SpaceView,
  ) {
    this.frameBudget = session.frameBudget;
    this.epochs = session.core.epochs;
  }

  get closed(): boolean {
    return this.session.closed;
  }

  get peerId(): string {
    return this.session.peer!.replicaId;
  }

  get offersStates(): boolean {
    return this.space.offers;
  }

  get sketches(): boolean {
    return this.space.spoken(FAST_PATH);
  }

  get compact(): boolean {
    return this.space.spoken(COMPACT_AE);
  }

  get carriesEpochs(): boolean {
    return this.space.spoken(EPOCH_DOTS);
  }

  reads(version: number): boolean {
    return this.space.announced(version);
  }

  get sketchAlways(): boolean {
    return this.session.core.sketchAlways;
  }

  index(): ReturnType<RepairPort['index']> {
    return this.session.hub.index(this.name);
  }

  now(): number {
    return this.session.core.now();
  }

  /** Handed on alone (repair.ts: buildSketch, decodeSketch): a function of its own, not a method. */
  readonly pause = (): Promise<void> => new Promise<void>((resolve) => this.session.timers.setTimeout(resolve, 0));

  get(key: string): Promise<KeyRecord | undefined> {
    return this.session.core.storage.get(this.name, key);
  }

  durableTo(seq: number): Promise<void> {
    return this.session.core.whenDurable(seq, this.name);
  }

  random(): number {
    return this.session.core.random();
  }

  observe(key: string, dots: KeyState): void {
    this.session.model.observe(this.name, key, dots, true);
  }

  superseded(key: string, mine: KeyState, claim: KeyState): unknown {
    if (this.session.rightsFor(this.name) !== 'write') return; // a read-only client's claims supersede nothing here
    // Only where our state does not cross this link (left out, unchanged since): elsewhere it reaches the peer, whose
    // state then comes whole or as its context alone lowered to our versions (fit-state.ts claimedContext).
    const left = this.session.model.leftOutOf(this.name, key)?.state;
    if (left === undefined || !sameVersions(left, mine)) return;
    const c = claimedContext(mine, claim, this.session.core.replicaId);
    const peer = this.session.peer!;
    if (c !== undefined) return this.session.core.joinNow(this.name, [[key, c]], { source: this.session, peer: peer.replicaId, delivered: peer });
  }

  asking(): string[] {
    return this.session.model.asking(this.name);
  }

  send(m: AntiEntropy): void {
    this.session.send(m);
  }

  sendRepair(entries: Entry[]): Promise<void> {
    return this.session.sendRepair(this.name, entries);
  }

  fail(e: unknown): void {
    this.session.fail(e);
  }

  ended(run: AntiEntropyRun, info: RunEnd): Promise<void> {
    return this.space.repairEnded(run, info);
  }
}
