/**
 * Encode once, LIVE frames too: a relay's live stream writes one log entry to every link where its space is live, and
 * a LIVE frame (live.ts) goes through its connection's table (conn-table.ts), which each link keeps for itself. Yet
 * the links of a fan-out take the same frames in the same order, so their tables stay alike (table-state.ts): the frame
 * one link wrote from a state is the same bytes for another link in that state, which then takes it and the state it
 * leads to without writing it (conn-table.ts `replay`). Where something of the link enters the bytes, it is not shared:
 *
 *   forms      only a frame of whole versions is kept (the peer model may hold a version held, or as a delta)
 *   peer id    the second seed of each table is its own peer's: a frame that named it is not kept, nor taken by a link
 *              whose peer's id the frame added as a string
 *   epochs     at protocol 11 (epoch-wire.ts) the sender's side enters the bytes (its chain, plain or not: `modeOf`;
 *              frames are kept by it, so links of 10 and of 11, alike in their tables, each share theirs), and an epoch's first naming on a link depends on what that peer holds of its chain
 *              (ToldChains) and on the registry: a frame that added an epoch to the link's table, or turned the sender's
 *              side plain, is not kept (the tables it moves are still alike after it, by what it changed)
 *   clearing   a table clears by its own size, in which its peer's id counts: a link whose table would clear where the
 *              writer's did not (or the other way round) writes its own
 */
import type { StoredVersion } from '../dvv.js';
import type { EpochEntry } from '../epochs.js';
import { Writer } from './codec.js';
import type { ConnTableOut } from './conn-table.js';
import { EpochOut, type EpochLink, type EpochSide } from './epoch-wire.js';
import { writeLive } from './live.js';
import { MsgType, type Changes } from './messages.js';
import type { Form } from './wire-state.js';

const chains = new WeakMap<readonly EpochEntry[], { readonly tagged: string; readonly plain: string }>();

/** The chain `modeOf` was last asked of, and its texts. */
let lastChain: readonly EpochEntry[] | undefined;
let lastModes: { readonly tagged: string; readonly plain: string } | undefined;

/** What of the sender's side enters a LIVE frame's bytes: its chain and whether it is plain ('' below protocol 11). */
function modeOf(me: EpochSide | undefined): string {
  if (!me) return '';
  // Every link of a fan-out names the same chain (the sender's): all but the first look up none.
  let c = me.chain === lastChain ? lastModes : chains.get(me.chain);
  lastChain = me.chain;
  if (c === undefined) {
    const text = JSON.stringify(me.chain);
    chains.set(me.chain, (c = { tagged: `t${text}`, plain: `p${text}` }));
  }
  lastModes = c;
  return me.plain === true ? c.plain : c.tagged;
}

/** The LIVE frame of `m` (one entry) on the connection `conn`; undefined where it goes as CHANGES (live.ts writeLive). */
export function encodeLive(m: Changes, conn: ConnTableOut, forms: ReadonlyMap<StoredVersion, Form> | undefined, epochs: EpochLink | undefined): Uint8Array | undefined {
  const entry = m.entries[0]!;
  // Only where tables were alike in this state (not a client's link, alone in its states) are frames looked up and kept.
  const frames = (forms === undefined || forms.size === 0) && conn.state.shared ? conn.state.frames(modeOf(epochs?.me)) : undefined;
  const c = frames?.get(entry);
  if (c !== undefined && c.space === m.space && c.upTo === m.upTo && conn.replay(c)) return c.frame;
  // A LIVE frame names epochs through the connection's table (epoch-table.ts); else it goes as CHANGES.
  const ep = epochs ? new EpochOut(epochs.me, epochs.reg(), epochs.told, conn.epochs) : undefined;
  const w = new Writer(undefined, 128);
  const cleared = conn.begin(m.space);
  w.u8(cleared ? MsgType.LiveCleared : MsgType.Live);
  if (!writeLive(w, m, conn, forms, ep)) return undefined;
  const plain = ep?.turnsPlain === true;
  ep?.done(false);
  const frame = w.done();
  if (frames && !conn.peerUsed && !plain && (ep === undefined || ep.entries === 0)) {
    frames.set(entry, { space: m.space, upTo: m.upTo, frame, cleared, added: conn.added(), ...conn.place, t: conn.t, change: conn.changed() });
  }
  return frame;
}
