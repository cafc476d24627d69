/**
 * What a space's log stream (outgoing.ts) and its anti-entropy (repair.ts) see of the space and its session
 * (space-sync.ts): their ports, read live (the getters read the session's and the space's state at each use).
 */
import type { AntiEntropyRun } from '../core.js';
import { BACKLOG_TOP, COMPACT_AE, FAST_PATH, MsgType } from './messages.js';
import type { StreamPort } from './outgoing.js';
import type { RunEnd } from './repair.js';
import type { RepairPort } from './repair-port.js';
import type { RepairAcks } from './repair-acks.js';
import type { SessionPort } from './space-sync.js';
import { EPOCH_DOTS } from './epoch-wire.js';
import { streamAcked } from './withheld-passed.js';

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
  const { core, hub } = session;
  return {
    get closed() {
      return session.closed;
    },
    get peerId() {
      return session.peer?.replicaId ?? '';
    },
    frameBudget: session.frameBudget,
    send: (m) => session.send(m),
    readLog: (after, limit) => core.storage.readLog(name, after, limit),
    lastSeq: () => hub.lastSeqNow(name),
    acked: (upTo, resumed) => streamAcked(session, name, upTo, resumed, space.repairAcks),
    tellTop: (top) => {
      if (space.spoken(BACKLOG_TOP)) session.send({ type: MsgType.Top, space: name, top });
    },
    refreshStatus: () => session.refreshStatus(),
    fail: (e) => session.fail(e),
  };
}

export function repairPort(name: string, session: SessionPort, space: SpaceView): RepairPort {
  const { core, hub } = session;
  return {
    get closed() {
      return session.closed;
    },
    get peerId() {
      return session.peer!.replicaId;
    },
    frameBudget: session.frameBudget,
    get offersStates() {
      return space.offers;
    },
    get sketches() {
      return space.spoken(FAST_PATH);
    },
    get compact() {
      return space.spoken(COMPACT_AE);
    },
    get carriesEpochs() {
      return space.spoken(EPOCH_DOTS);
    },
    reads: (version) => space.announced(version),
    get sketchAlways() {
      return core.sketchAlways;
    },
    epochs: core.epochs,
    index: () => hub.index(name),
    now: () => core.now(),
    pause: () => new Promise<void>((resolve) => session.timers.setTimeout(resolve, 0)),
    get: (key) => core.storage.get(name, key),
    durableTo: (seq) => core.whenDurable(seq, name),
    random: () => core.random(),
    observe: (key, dots) => session.model.observe(name, key, dots, true),
    asking: () => session.model.asking(name),
    send: (m) => session.send(m),
    sendRepair: (entries) => session.sendRepair(name, entries),
    fail: (e) => session.fail(e),
    ended: (run, info) => space.repairEnded(run, info),
  };
}
