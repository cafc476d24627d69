/**
 * One connection's framing: what the session sends and receives goes through here.
 *
 *   before the hellos   frames carry no string-table seed and no LIVE state
 *   after them          both replica ids seed every frame's string table (a version by either side then costs one
 *                       byte for its replica id), and LIVE frames carry single log entries compactly, through the
 *                       connection's tables (conn-table.ts), one per direction
 *   CHANGES             each version's form (whole, held, delta) is decided by the link's model of the peer
 *                       (peer-model.ts), which learns from every state sent and received
 *
 * Invariant: the outgoing connection table and the model change only for frames actually sent (`sent`); an encoded
 * frame that is not sent (over the frame limit: the session splits the batch) leaves no trace.
 */
import { ConcordError } from '../errors.js';
import type { StoredVersion } from '../dvv.js';
import { ConnTableIn, ConnTableOut } from './conn-table.js';
import { decodeMessage, encodeMessage, MsgType, type Message } from './messages.js';
import { PeerModel } from './peer-model.js';
import type { Form } from './wire-state.js';

export interface Encoded {
  readonly frame: Uint8Array;
  readonly m: Message;
  readonly forms: ReadonlyMap<StoredVersion, Form> | undefined;
}

export class Wire {
  readonly model = new PeerModel();
  private table: readonly string[] | undefined;
  private inTable: readonly string[] | undefined;
  private out: ConnTableOut | undefined;
  private in: ConnTableIn | undefined;

  constructor(private readonly report: (error: unknown) => void) {}

  /** Both hellos are known: later frames use both ids (ours first in what we send) and the LIVE form. */
  start(me: string, peer: string): void {
    this.table = [me, peer];
    this.inTable = [peer, me];
    this.out = new ConnTableOut(this.table);
    this.in = new ConnTableIn(this.inTable);
  }

  /** Encodes a message; undefined when a batch of changes outgrew `maxFrameBytes` (split it, nothing changed here). */
  encode(m: Message, maxFrameBytes: number): Encoded | undefined {
    if (m.type !== MsgType.Changes) return { frame: encodeMessage(m, this.table), m, forms: undefined };
    const { forms, bad } = this.model.forms(m.space, m.entries, m.upTo === 0);
    if (bad.length > 0) {
      this.report(new ConcordError('TYPE_NOT_LOADED', `space "${m.space}": the value of ${bad.map((k) => JSON.stringify(k)).join(', ')} is held as deltas of a type not loaded here and cannot be sent whole; not sent on this link`));
      m = { ...m, entries: m.entries.filter(([k]) => !bad.includes(k)) };
    }
    const frame = encodeMessage(m, this.table, { forms, ...(this.out ? { live: this.out } : {}) });
    if (frame.byteLength > maxFrameBytes && m.entries.length > 0) {
      this.out?.rollback();
      return undefined;
    }
    return { frame, m, forms };
  }

  /** The frame went out. */
  sent(e: Encoded): void {
    this.out?.commit();
    const m = e.m;
    if (m.type !== MsgType.Changes) return;
    this.model.sent(m.space, m.entries, e.forms ?? new Map());
    if (m.upTo > 0) this.out?.upTo.set(m.space, m.upTo);
  }

  decode(frame: Uint8Array | string, maxValueBytes: number): Message {
    return decodeMessage(frame, { maxValueBytes, table: this.inTable, conn: this.in });
  }
}
