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
import { decodeMessage, encodeMessage, MsgType, type Changes, type Message } from './messages.js';
import { liveFits } from './live.js';
import { PeerModel } from './peer-model.js';
import { encodeChangesOnce } from './shared-frames.js';
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
  private encode(m: Message, maxFrameBytes: number): Encoded | undefined {
    if (m.type !== MsgType.Changes) return { frame: encodeMessage(m, this.table), m, forms: undefined };
    const { forms, bad } = this.model.forms(m.space, m.entries, m.upTo === 0);
    if (bad.length > 0) {
      this.report(new ConcordError('TYPE_NOT_LOADED', `space "${m.space}": the value of ${bad.map((k) => JSON.stringify(k)).join(', ')} is held as deltas of a type not loaded here and cannot be sent whole; not sent on this link`));
      m = { ...m, entries: m.entries.filter(([k]) => !bad.includes(k)) };
    }
    // Not a LIVE frame: the same bytes for every session sending the same entries (shared-frames.ts).
    const frame =
      this.table && !(this.out && liveFits(m)) ? encodeChangesOnce(m, this.table, forms) : encodeMessage(m, this.table, { forms, ...(this.out ? { live: this.out } : {}) });
    if (frame.byteLength > maxFrameBytes && m.entries.length > 0) {
      this.out?.rollback();
      return undefined;
    }
    return { frame, m, forms };
  }

  /**
   * Encodes `m` and hands its frame to `transmit`. Batches of changes are sized by estimate; one that still outgrows
   * the frame limit goes in halves (the first part as repair states, upTo 0, which is always safe). A single state
   * that cannot fit is reported and left out.
   */
  send(m: Message, maxFrameBytes: number, transmit: (frame: Uint8Array, m: Message) => void): void {
    const encoded = this.encode(m, maxFrameBytes);
    if (encoded) {
      transmit(encoded.frame, encoded.m);
      return this.sent(encoded);
    }
    const c = m as Changes;
    if (c.entries.length === 1) {
      this.report(new ConcordError('VALUE_TOO_LARGE', `"${c.entries[0]![0]}" in space "${c.space}" does not fit the connection's frame limit (${maxFrameBytes} bytes); it is not sent on this link`));
      return this.send({ ...c, entries: [] }, maxFrameBytes, transmit);
    }
    const half = Math.ceil(c.entries.length / 2);
    this.send({ ...c, upTo: 0, entries: c.entries.slice(0, half) }, maxFrameBytes, transmit);
    this.send({ ...c, entries: c.entries.slice(half) }, maxFrameBytes, transmit);
  }

  /** The frame went out. */
  private sent(e: Encoded): void {
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
