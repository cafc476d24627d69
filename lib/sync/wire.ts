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
 *   PART                a single key state over the frame limit goes in parts where the peer speaks 10 (key-parts.ts)
 *   EPOCHS              where both speak 11, dots may name epochs (epoch-wire.ts): every frame that carries versions
 *                       or dots (CHANGES, PART, LIVE, AE) is written with the frame's epoch table, and the chain records
 *                       of a frame received whole go to the replica's registry (Epochs.learnChain); to a peer below 11 a
 *                       key whose state names an epoch is left out of the frame and reported (PROTOCOL), like a value
 *                       of a type not loaded: sending it untagged is item 6 of docs/design/epochs-build.md, not built;
 *                       its anti-entropy claim goes as nothing (the peer then sends its state of the key whole), and
 *                       the key counts as left out of that frame too (old-peers.ts)
 *
 * Invariant: the outgoing connection table and the model change only for frames actually sent (`sent`); an encoded
 * frame that is not sent (over the frame limit: the session splits the batch) leaves no trace.
 *
 *   LEFT OUT            a key state this connection could not carry goes as its context alone, without the replicas of
 *                       its versions (fit-state.ts); it is not tried again in a repair frame while the key's state stays
 *                       the same (the frame limit is the connection's): anti-entropy between a narrow
 *                       and a wide replica meets the same difference every run, and resending it each time (an error
 *                       event and an empty frame per run, for ever) kept their links from ever falling quiet; toward a
 *                       peer below 11 a key whose context alone the peer's versions would lower is asked for (NEED)
 *   WITHHELD            a frame that left a key out, and every frame after it, are held back (in order) until the
 *                       withhold is stored durably (acks.ts `withholdsStored`): the peer stores a cursor past the key
 *                       on that frame, and a withhold a crash took would let its next session clear the key unsent
 *   ASKED               likewise until the asks the frame opens (NEED after it) are stored (open-asks-store.ts): a
 *                       crash that took an ask after the peer's cursor passed the key would leave nothing to ask again
 */
import { ConcordError } from '../errors.js';
import { sameState, type EpochRegistry, type KeyState, type StoredVersion } from '../dvv.js';
import { Epochs, NO_EPOCHS } from '../epoch-points.js';
import type { EpochEntry } from '../epochs.js';
import { ToldChains, type EpochLink } from './epoch-wire.js';
import { ChainOut } from './epoch-chain.js';
import { ConnTableIn, ConnTableOut } from './conn-table.js';
import { decodeMessage, encodeMessage, MsgType, type Changes, type Entry, type Left, type Message } from './messages.js';
import { leftFrame } from './lacks.js';
import { lastOfParts, partFrames, PartStaging } from './key-parts.js';
import type { EpochChains } from './link-terms.js';
import { asContexts, contextAlone, tellsMore, withoutOwn } from './fit-state.js';
import { claimsForOld, lowersToPeer, NONE, taggedKeys } from './old-peers.js';
import { liveFits } from './live.js';
import { PeerModel, type LeftOutNote } from './peer-model.js';
import { needsFitting } from './need-answers.js';
import type { OpenAsks, PeerAsks } from './open-asks.js';
import { encodeChangesOnce } from './shared-frames.js';
import type { Form } from './wire-state.js';

export { linkTerms, type EpochChains } from './link-terms.js';

export interface Encoded {
  readonly frame: Uint8Array;
  readonly m: Message;
  readonly forms: ReadonlyMap<StoredVersion, Form> | undefined;
  /** What the session is told the frame carried, where keys went as their context alone (those keys left out). */
  readonly told?: Message;
}

export class Wire {
  readonly model: PeerModel;
  private table: readonly string[] | undefined;
  private inTable: readonly string[] | undefined;
  private out: ConnTableOut | undefined;
  private in: ConnTableIn | undefined;
  /** Key states in parts: received (staged until their last frame), and whether the peer takes them. */
  private parts = new PartStaging(0);
  private sendsParts = false;
  /** Both hellos announced protocol 12: a key left out is told to the peer (LEFT, lacks.ts). */
  private tellsLeft = false;
  /** Where both hellos announced protocol 11: the connection's epochs (epoch-wire.ts). */
  private epochLink: EpochLink | undefined;
  /** Our chain on this link (EpochChains.missing, own). */
  private chain: ChainOut | undefined;
  /** A server's HELLO `holds` for this connection (EpochChains.holds). */
  holds: number | undefined;
  /** The history our hello announced (`announced`). */
  private history: readonly EpochEntry[] = [];

  /** Keys left out toward a peer below 11 whose state there the link does not know: asked for after the frame (NEED). */
  private asks: { space: string; keys: string[] } | undefined;
  /** While a withhold is being stored: the frames held back until it is durable (WITHHELD), in order. */
  private holding: Promise<void> | undefined;
  private readonly held: Array<() => boolean> = [];
  private allAsks: OpenAsks | undefined; // the replica's open asks, all peers' (`sent` asks this link's only if any)

  constructor(
    private readonly report: (error: unknown) => void,
    /**
     * A frame left these keys out (their state cannot go on this link): they are not acknowledged by it (acks.ts).
     * `upTo`: the frame's log position (0: repair states), past the records it left out. Returns the store of the
     * withholds under way, if any: that frame and the ones after it wait for it.
     */
    private readonly withheld: (space: string, keys: readonly string[], upTo: number) => Promise<void> | undefined | void = () => {},
    /** The replica's epoch ancestry (ReplicaCore.epochs), which the peer model judges coverage by. */
    private readonly epochs?: () => EpochRegistry,
    /** The replica's asks of its peers that outlive a link (open-asks.ts); none: each link's are its own. */
    private readonly openAsks?: () => OpenAsks,
    /** Whether the peer's states are refused in a space (a read-only client's: need-answers.ts `refuse`). */
    private readonly readOnly: (space: string) => boolean = () => false,
    /** The peer's LEFT: keys it could not send on this link (lacks.ts). */
    private readonly lacked: (m: Left) => void = () => {},
  ) {
    this.model = new PeerModel(epochs);
  }

  /** Keys left out of a frame about to go: told, and the frames from it on held back while the withhold is stored. */
  private leaveOut(space: string, keys: readonly string[], reach: number): void {
    const storing = this.withheld(space, keys, reach);
    if (storing) this.hold(storing);
  }

  /** The frame about to go, and every one after it, wait for `storing` (WITHHELD, and the asks it opens: ASKED). */
  private hold(storing: Promise<void>): void {
    const gate: Promise<void> = Promise.all([this.holding, storing]).then(() => {
      if (this.holding !== gate) return; // held longer by a later withhold: its gate sends them all
      this.holding = undefined;
      for (const go of this.held.splice(0)) if (!go()) break; // the rest are not sent: their link failed
    });
    this.holding = gate;
  }

  /**
   * Both hellos are known: later frames use both ids (ours first in what we send) and the LIVE form; `partsLimit`
   * (both hellos announced protocol 10): what one key state in parts may take here, else 0 (no PART either way).
   */
  start(me: string, peer: string, partsLimit = 0, epochDots?: EpochChains, tellsLeft = false): void {
    this.tellsLeft = tellsLeft;
    const reg = () => this.epochs?.() ?? NO_EPOCHS;
    this.holds = epochDots?.holds;
    // A read-only session may say hello under its principal's writable replica's id (principals.ts): its refused answers
    // and what went to it settle its own asks, never the writer's (test/review/readonly-open-asks.test.ts).
    // Bound once a space, as the writer's are once a link (a session's rights do not change; a frame's send asks).
    // Linking reads the stored asks again where tabs share them (open-asks-store.ts); a read-only session's are not
    // stored (a session that may store nothing makes the replica write nothing: open-asks.ts PeerAsks `kept`).
    const asks = (this.allAsks = this.openAsks?.());
    const writes = asks?.link(peer, epochDots === undefined);
    const bound = new Map<string, PeerAsks | undefined>();
    if (asks) this.model.open = (space) => bound.get(space) ?? bound.set(space, this.readOnly(space) ? asks.of(peer + '\u0000read', false) : writes).get(space);
    const told = epochDots && new ToldChains(me, epochDots.teaches === true);
    this.epochLink = epochDots && {
      me: { id: me, chain: epochDots.mine ?? this.history },
      peer: { id: peer, chain: epochDots.theirs },
      told,
      reg,
      learn: (r, records) => {
        const known = reg();
        if (!(known instanceof Epochs)) return undefined;
        if (r === peer && epochDots.self === false) return undefined;
        if (r !== peer && epochDots.others !== true) return void epochDots.told?.(r, records);
        const refused = known.learnChain(r, records);
        if (!refused) epochDots.learned?.();
        return refused;
      },
    };
    this.chain = told && new ChainOut(epochDots!.missing ?? [], epochDots!.own ?? [], me, told, this.epochLink!.me);
    this.parts = new PartStaging(partsLimit);
    this.sendsParts = partsLimit > 0;
    this.table = [me, peer];
    this.inTable = [peer, me];
    this.out = new ConnTableOut(this.table);
    this.in = new ConnTableIn(this.inTable);
  }

  /**
   * Encodes a message; undefined when a batch of changes outgrew `maxFrameBytes` (split it, nothing changed here). A
   * relay runs this for every link of a fan-out: its common case stays a small function, which V8 optimizes early and
   * quickly (the time to optimize grows with a function's bytecode; this was 2 kB with the cases below inline).
   */
  private encode(m: Message, maxFrameBytes: number, reach: number): Encoded | undefined {
    if (m.type !== MsgType.Changes) return this.encodeOther(m, reach);
    const { forms, bad } = this.model.forms(m.space, m.entries, m.upTo === 0);
    const tagged = this.epochLink ? NONE : taggedKeys(m.entries, bad);
    if (bad.length === 0 && tagged.length === 0) return this.frameOf(m, forms, maxFrameBytes);
    return this.encodeApart(m, forms, bad, tagged, maxFrameBytes, reach);
  }

  /** A message other than CHANGES: an anti-entropy run's claims are left out for a peer below protocol 11. */
  private encodeOther(m: Message, reach: number): Encoded {
    if (m.type === MsgType.AntiEntropy && !this.epochLink) {
      const [old, claimed] = claimsForOld(m);
      if (claimed.length > 0) this.leaveOut(m.space, claimed, reach);
      m = old;
    }
    return { frame: encodeMessage(m, this.table, { epochs: this.epochLink }), m, forms: undefined };
  }

  /**
   * CHANGES with keys this link cannot carry as they are: `bad` (held as deltas of a type not loaded here) and `tagged`
   * (naming an epoch, to a peer below protocol 11).
   */
  private encodeApart(m: Changes, forms: ReadonlyMap<StoredVersion, Form>, bad: readonly string[], tagged: readonly string[], maxFrameBytes: number, reach: number): Encoded | undefined {
    if (bad.length > 0) {
      this.leaveOut(m.space, bad, reach);
      this.report(new ConcordError('TYPE_NOT_LOADED', `space "${m.space}": the value of ${bad.map((k) => JSON.stringify(k)).join(', ')} is held as deltas of a type not loaded here and cannot be sent whole; not sent on this link`));
    }
    if (tagged.length > 0) {
      this.leaveOut(m.space, tagged, reach);
      const peer = this.table?.[1] ?? 'the peer';
      this.report(new ConcordError('PROTOCOL', `space "${m.space}": the state of ${tagged.map((k) => JSON.stringify(k)).join(', ')} names an epoch, which the peer's protocol (below 11) cannot carry: ${peer} runs an earlier release of Concord, and gets the key once upgraded to one speaking protocol 11 (its own writes still sync); not sent on this link`));
      const asking: string[] = [];
      for (const e of m.entries) {
        if (!tagged.includes(e[0])) continue;
        this.noteLeftOut(m.space, e);
        // Where knowing the peer's versions lets the context alone tell more, the peer is asked (NEED: need-answers.ts).
        if (lowersToPeer(e[1]) && this.model.toAsk(m.space, e[0])) asking.push(e[0]);
      }
      if (asking.length > 0) {
        (this.asks ??= { space: m.space, keys: [] }).keys.push(...asking);
        const storing = this.model.opened(m.space, asking);
        if (storing) this.hold(storing);
      }
    }
    // Left out, each key still takes its context alone (fit-state.ts: no version, entries lowered below the state's own
    // versions, a point naming an epoch only at 11, so nothing a peer below 11 cannot carry): the peer drops what the state
    // superseded. The session is told the frame carried none of them: they stay withheld, their writes pending.
    const apart = new Set([...bad, ...tagged]);
    const told = { ...m, entries: m.entries.filter(([k]) => !apart.has(k)) };
    const entries = asContexts(m.entries, apart, (e) => this.alone(m.space, e[0], e[1]));
    // Where the writer's own versions (fit-state.ts withOwn) outgrow the frame, the contexts go without them.
    const fits = (es: Entry[]) => (es.length > told.entries.length ? this.frameOf({ ...m, entries: es }, forms, maxFrameBytes) : undefined);
    const withContexts = fits(entries) ?? fits(this.bare(entries, apart));
    if (withContexts) {
      for (const [k, c] of (withContexts.m as Changes).entries) if (apart.has(k)) this.toldContext(m.space, k, c);
      return { ...withContexts, told };
    }
    // No context to tell, or the frame does not fit with them (split only for what the session sends).
    return this.frameOf(told, forms, maxFrameBytes);
  }

  /** A CHANGES frame of `m`; undefined when it has entries and outgrew `maxFrameBytes` (nothing changed here). */
  private frameOf(m: Changes, forms: ReadonlyMap<StoredVersion, Form>, maxFrameBytes: number): Encoded | undefined {
    // Not a LIVE frame: the same bytes for every session sending the same entries (shared-frames.ts).
    const frame =
      this.table && !(this.out && liveFits(m))
        ? encodeChangesOnce(m, this.table, forms, this.epochLink)
        : encodeMessage(m, this.table, { forms, epochs: this.epochLink, live: this.out });
    if (frame.byteLength > maxFrameBytes && m.entries.length > 0) {
      this.out?.rollback();
      this.epochLink?.told?.rollback();
      return undefined;
    }
    return { frame, m, forms };
  }

  /**
   * Encodes `m` and hands its frame to `transmit`. Batches of changes are sized by estimate; one that still outgrows
   * the frame limit goes in halves (the first part as repair states, upTo 0, which is always safe). A single state
   * that cannot fit goes in parts (key-parts.ts) where the peer takes them; else, or if even parts cannot carry it,
   * it is reported and left out.
   */
  send(m: Message, maxFrameBytes: number, transmit: (frame: Uint8Array, m: Message) => void): void {
    // Our records the peer lacks go first: it holds them before it judges a dot naming them.
    for (const f of this.chain?.before(m, maxFrameBytes) ?? []) this.put(f, maxFrameBytes, transmit, 0);
    this.put(m, maxFrameBytes, transmit, m.type === MsgType.Changes ? m.upTo : 0);
    const asks = this.asks;
    this.asks = undefined;
    // Of a read-only client too: its answer is refused, yet tells the link what it holds (need-answers.ts `refuse`).
    if (!asks) return;
    const needs = needsFitting(asks.space, asks.keys, (n) => encodeMessage(n, this.table).byteLength <= maxFrameBytes);
    for (const need of needs) this.put(need, maxFrameBytes, transmit, 0);
    const asked = new Set(needs.flatMap((n) => n.keys.map(([k]) => k)));
    if (asked.size < asks.keys.length) this.model.unasked(asks.space, asks.keys.filter((k) => !asked.has(k)));
  }

  /** The history our hello announced (sent before any frame of the link): what our dots imply (EpochSide). */
  announced<H extends readonly EpochEntry[]>(history: H): H {
    this.history = history;
    if (this.epochLink) this.epochLink.me.chain = history;
    return history;
  }

  /**
   * Puts a frame `transmit` was given on the connection: now, or once the withhold being stored is durable
   * (WITHHELD), after the frames held before it. What the session notes of a frame it sends is noted at `transmit`,
   * not here: a repair frame counts as sent (its window, the run's acknowledgements) from the moment it was made.
   * A held frame's table moved when it was made (a LIVE frame's strings): one whose send throws fails `session`, as a
   * send that throws at once does, and no frame behind it goes (the peer would lack its strings: rev47d).
   */
  deliver(conn: { send(frame: Uint8Array): void }, frame: Uint8Array, session: { fail(e: unknown): void }): void {
    if (!this.holding) return conn.send(frame);
    this.held.push(() => {
      try {
        return conn.send(frame), true;
      } catch (e) {
        return session.fail(e), false;
      }
    });
  }

  /** `reach`: the log position of the frame `m` was split from (its records lie at or below it). */
  private put(m: Message, maxFrameBytes: number, transmit: (frame: Uint8Array, m: Message) => void, reach: number): void {
    if (this.model.leavesOut && m.type === MsgType.Changes && m.upTo === 0 && m.entries.length > 0) {
      // Repair states this connection could not carry as they are now: not tried again (LEFT OUT), nor a frame sent for
      // none. Their contexts go again where what the link learned of the peer since lets them tell more (fit-state.ts).
      const space = m.space;
      const more: Entry[] = [];
      const entries = m.entries.filter(([k, st]) => !this.asLeftOut(space, k, st, this.model.leftOutOf(space, k), more));
      if (more.length > 0) this.tellContexts({ ...m, entries: more }, maxFrameBytes, transmit);
      if (entries.length === 0) return;
      if (entries.length < m.entries.length) m = { ...m, entries };
    }
    const encoded = this.encode(m, maxFrameBytes, reach);
    if (encoded) {
      transmit(encoded.frame, encoded.told ?? encoded.m);
      return this.sent(encoded);
    }
    const c = m as Changes;
    if (c.entries.length === 1) {
      const why = this.sendsParts ? this.sendParts(c, maxFrameBytes, transmit) : `it does not fit the connection's frame limit (${maxFrameBytes} bytes) and the peer takes no key in parts`;
      if (why === undefined) return;
      this.leaveOut(c.space, [c.entries[0]![0]], reach);
      this.noteLeftOut(c.space, c.entries[0]!);
      this.report(new ConcordError('VALUE_TOO_LARGE', `"${c.entries[0]![0]}" in space "${c.space}" is not sent on this link: ${why}`));
      const left = this.tellsLeft ? leftFrame(c.space, c.entries[0]!, maxFrameBytes, (l) => encodeMessage(l, this.table)) : undefined;
      if (left) transmit(...left); // the peer knows it lacks the key (lacks.ts)
      // Its context still goes, without its versions' replicas (fit-state.ts): what the state superseded is dropped there.
      const context = this.alone(c.space, c.entries[0]![0], c.entries[0]![1]);
      // Told to the session as a frame of no entries: its acknowledgement says nothing of the key (WITHHELD).
      if (context && this.tellContexts({ ...c, entries: [[c.entries[0]![0], context]] }, maxFrameBytes, transmit, reach)) return;
      return this.put({ ...c, entries: [] }, maxFrameBytes, transmit, reach);
    }
    const half = Math.ceil(c.entries.length / 2);
    this.put({ ...c, upTo: 0, entries: c.entries.slice(0, half) }, maxFrameBytes, transmit, reach);
    this.put({ ...c, entries: c.entries.slice(half) }, maxFrameBytes, transmit, reach);
  }

  /** `entry`'s state did not fit this connection: a repair frame does not try it again while the key's state is the same. */
  private noteLeftOut(space: string, [key, state]: Entry): void {
    this.model.leftOut(space, key, state);
  }

  /** The context alone `c` of a key left out went in its place. */
  private toldContext(space: string, key: string, c: KeyState | undefined): void {
    const was = this.model.leftOutOf(space, key);
    if (was && c) was.told = c;
  }

  /** `entries` (those in `only`, if given) as contexts alone without the writer's own versions (fit-state.ts withoutOwn). */
  private bare(entries: Entry[], only?: ReadonlySet<string>): Entry[] {
    return asContexts(entries, only, (e) => withoutOwn(e[1], this.table?.[1]));
  }

  /** `st`'s context alone for this link (fit-state.ts): points naming epochs go only at protocol 11. */
  private alone(space: string, key: string, st: KeyState, typed?: boolean): KeyState | undefined {
    return contextAlone(st, this.model.known(space, key), this.epochLink !== undefined, this.epochs?.() ?? NO_EPOCHS, this.table?.[1], typed);
  }

  /**
   * Whether repair state `st` of `key` is one this connection could not carry (`was`); if so and its context alone now
   * tells more than the one sent (the link has learned of versions the peer holds that it superseded), that goes on `more`.
   */
  private asLeftOut(space: string, key: string, st: KeyState, was: LeftOutNote | undefined, more: Entry[]): boolean {
    if (was === undefined || !sameState(was.state, st)) return false;
    // The same dots name the same values: the note tells whether one is typed (`st` may be the note's dots: `heard`).
    const c = this.alone(space, key, st, was.typed);
    if (c && tellsMore(this.epochs?.() ?? NO_EPOCHS, c, was.told)) more.push([key, c]);
    return true;
  }

  /** Frames of contexts alone (`m`'s entries) of keys left out, told as carrying none; false: a lone one did not fit. */
  private tellContexts(m: Changes, maxFrameBytes: number, transmit: (frame: Uint8Array, m: Message) => void, reach = 0): boolean {
    const encoded = this.encode(m, maxFrameBytes, reach);
    if (!encoded) {
      const bare = this.bare(m.entries);
      if (m.entries.length === 1) return bare.length === 1 && bare[0]![1] !== m.entries[0]![1] && this.tellContexts({ ...m, entries: bare }, maxFrameBytes, transmit, reach);
      const half = Math.ceil(m.entries.length / 2);
      this.tellContexts({ ...m, entries: m.entries.slice(0, half) }, maxFrameBytes, transmit, reach);
      this.tellContexts({ ...m, entries: m.entries.slice(half) }, maxFrameBytes, transmit, reach);
      return true;
    }
    for (const [k, c] of m.entries) this.toldContext(m.space, k, c);
    transmit(encoded.frame, { ...m, entries: [] });
    this.sent(encoded);
    return true;
  }

  /**
   * Sends the one entry of `c` in parts: every PART, then `c` with the key's context alone (key-parts.ts), all in this
   * turn; or nothing, and why. The model learns the whole state once the last frame went.
   */
  private sendParts(c: Changes, maxFrameBytes: number, transmit: (frame: Uint8Array, m: Message) => void): string | undefined {
    const { forms } = this.model.forms(c.space, c.entries, c.upTo === 0);
    const parts = partFrames(c.space, c.entries[0]!, maxFrameBytes, (p) => encodeMessage(p, this.table, { forms, epochs: this.epochLink }));
    const last = typeof parts === 'string' ? undefined : this.encode(lastOfParts(c), maxFrameBytes, c.upTo);
    if (!last) this.epochLink?.told?.rollback(); // nothing of them goes
    if (typeof parts === 'string') return parts;
    if (!last) return `its context alone does not fit the connection's frame limit (${maxFrameBytes} bytes)`;
    for (const frame of parts) transmit(frame, { type: MsgType.Part, space: c.space, upTo: 0, entries: [] });
    transmit(last.frame, last.m);
    this.sent({ frame: last.frame, m: c, forms });
    return undefined;
  }

  /** The frame went out. */
  private sent(e: Encoded): void {
    this.out?.commit();
    this.epochLink?.told?.commit();
    const m = e.m;
    if (m.type !== MsgType.Changes) return;
    this.model.sent(m.space, m.entries, e.forms ?? new Map());
    if (this.allAsks !== undefined && this.allAsks.held > 0 && this.model.open(m.space)?.ids.size) for (const [k] of (e.told as Changes | undefined ?? m).entries) this.model.carried(m.space, k);
    if (m.upTo > 0) this.out?.moved(m.space, m.upTo);
  }

  /** A decoded frame; undefined for a PART (staged until the frame that ends its key, which comes back whole). */
  decode(frame: Uint8Array | string, maxValueBytes: number): Message | undefined {
    const m = decodeMessage(frame, { maxValueBytes, table: this.inTable, conn: this.in, epochs: this.epochLink });
    if (m.type === MsgType.Left) return void (this.model.toldLeft(m), this.lacked(m)); // taken in turn, as a PART (lacks.ts)
    return this.parts.take(m, typeof frame === 'string' ? frame.length : frame.byteLength);
  }
}
