import { NO_EPOCHS, type EpochRegistry } from '../../lib/epoch-points.js';
import { ConnTableIn } from '../../lib/sync/conn-table.js';
import type { EpochLink } from '../../lib/sync/epoch-wire.js';
import { decodeMessage, MsgType, type Message } from '../../lib/sync/messages.js';
import type { Frame } from '../../lib/transport.js';
import type { EpochEntry } from '../../lib/epochs.js';
import type { Volume } from './cluster.js';
import { versionDot } from './ledger.js';
import { readerEpochs, speaks11 } from '../support/epoch-reader.js';

/**
 * "A dot leaves its replica only once it is durable there": the sender's own dots in a log frame (CHANGES, or
 * LIVE: one log entry through the connection's tables) must be durable on its disk (its durable record of the
 * key covers them). LIVE frames decode only in order, with their direction's state (conn-table.ts), seeded like
 * the session's by both replica ids of the hellos; a network wire carries one session, and a new wire starts with
 * hellos, so a hello resets both directions of its edge (each edge apart where two join the same nodes: `channel`). A frame that does not decode is skipped (counted),
 * and so is the rest of its direction until the next hello. Where both hellos of an edge list protocol 11, its frames
 * are read in 11's form (support/epoch-reader.ts), with every node's epoch records (`epochs`): a frame names an epoch
 * whose chain its receiver holds (a third replica's, passed on by a relay) by its label alone.
 */
export class DurabilityWatch {
  readonly counts = { changes: 0, live: 0, undecoded: 0 };
  /** Per direction `from>to`: the sender's replica id in its last hello. */
  private readonly ids = new Map<string, string>();
  /** Per direction: the versions the sender's last hello announced. */
  private readonly versions = new Map<string, readonly number[]>();
  /** Per direction: the epoch history the sender's last hello announced (what its dots imply at 11). */
  private readonly histories = new Map<string, readonly EpochEntry[]>();
  /** Per direction: its LIVE state (null: lost track until the next hello). */
  private readonly conns = new Map<string, ConnTableIn | null>();
  /** Per direction at protocol 11, what its frames imply (the sender's side turns plain at a frame: epoch-wire.ts). */
  private readonly links = new Map<string, EpochLink>();

  /** `disk`: a node's disk (undefined while the cluster is being made: frames are decoded, not judged, then). */
  /**
   * `disk`: a node's disk (undefined while the cluster is being made: frames are decoded, not judged, then). `epochs`:
   * the registry a sent dot naming its epoch is judged by (the ledger's: every node's records).
   */
  constructor(
    private readonly disk: (node: string) => Volume | undefined,
    private readonly epochs: () => EpochRegistry = () => NO_EPOCHS,
  ) {}

  /** `channel`: which of the edges joining the two nodes carried it ('' the first: SimNetwork `tap`); each has its own state. */
  check(from: string, to: string, frame: Frame, channel = ''): string[] {
    if (typeof frame === 'string') return [];
    const dir = `${from}>${to}${channel}`;
    const back = `${to}>${from}${channel}`;
    const type = frame[0];
    if (type === MsgType.Hello) {
      try {
        const m = decodeMessage(frame, { maxValueBytes: 1 << 30 });
        if (m.type === MsgType.Hello) (this.ids.set(dir, m.replicaId), this.versions.set(dir, m.versions), this.histories.set(dir, m.history));
      } catch {
        this.ids.delete(dir);
        this.versions.delete(dir);
        this.histories.delete(dir);
      }
      this.conns.delete(dir);
      this.conns.delete(back);
      this.links.delete(dir);
      this.links.delete(back);
      return [];
    }
    // An anti-entropy frame is read for what it leaves of the link's epochs (a side turned plain), else not judged.
    const ae = type === MsgType.AntiEntropy;
    if (type !== MsgType.Changes && type !== MsgType.Live && type !== MsgType.LiveCleared && !ae) return [];
    const sender = this.ids.get(dir);
    const receiver = this.ids.get(back);
    let conn = this.conns.get(dir);
    if (conn === undefined && sender && receiver) this.conns.set(dir, (conn = new ConnTableIn([sender, receiver])));
    if (!conn || !sender || !receiver) {
      if (!ae) this.counts.undecoded++;
      return [];
    }
    let m: Message;
    try {
      const at11 = speaks11(this.versions.get(dir), this.versions.get(back));
      let link = this.links.get(dir);
      if (at11 && !link) this.links.set(dir, (link = readerEpochs(sender, receiver, this.histories.get(dir), this.histories.get(back), this.epochs)));
      m = decodeMessage(frame, { maxValueBytes: 1 << 30, table: [sender, receiver], ...(ae ? {} : { conn }), ...(at11 ? { epochs: link } : {}) });
    } catch {
      // Past a frame it cannot read, the direction is not judged (what later frames imply may have changed at it).
      if (!ae) this.counts.undecoded++;
      this.conns.set(dir, null);
      return [];
    }
    // SIM_TRACE_DECODED=1: every frame the watch decodes (at 11 too, which SIM_TRACE cannot read), before SIM_TRACE's line of it.
    if (process.env.SIM_TRACE_DECODED) process.stderr.write(`decoded ${from}->${to} ${JSON.stringify(m, (_k, v: unknown) => (v instanceof Uint8Array ? `<${v.length} B>` : v))}\n`);
    if (m.type !== MsgType.Changes) return [];
    this.counts[type === MsgType.Changes ? 'changes' : 'live']++;
    const out: string[] = [];
    const disk = this.disk(from);
    if (!disk) return out;
    for (const [key, state] of m.entries) {
      for (const v of state.vs) {
        if (v.r === sender && !disk.durablySeen(m.space, key, v.r, v.n, v.ep, this.epochs())) out.push(`${from} sent ${key}@${versionDot(v)} to ${to} before it was durable (only durable state may leave a replica)`);
      }
    }
    return out;
  }
}
