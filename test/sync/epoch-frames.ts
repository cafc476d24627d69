/** Two Wires at protocol 11 in one process: a frame written by one, decoded by the other (epoch-trust, epoch-widen tests). */
import type { Epochs } from '../../lib/epoch-points.js';
import type { Message } from '../../lib/sync/messages.js';
import { Wire, type EpochChains } from '../../lib/sync/wire.js';

export const ME = 'sender-id-aaaaaaaaaaaa';
export const PEER = 'receiver-id-bbbbbbbbbb';
export const THIRD = 'third-id-cccccccccccc';
export const FRAME = 1 << 22;

export function wire(reg: Epochs, me: string, peer: string, terms: EpochChains): Wire {
  const w = new Wire(
    (e) => {
      throw e;
    },
    () => {},
    () => reg,
  );
  w.start(me, peer, 0, terms);
  return w;
}

/** `m` as ME with registry `sent` writes it, decoded by PEER with registry `reg` and `terms`: what PEER's wire hands on. */
export function carry(sent: Epochs, m: Message, reg: Epochs, terms: EpochChains): Message[] {
  const sender = wire(sent, ME, PEER, { mine: [], theirs: [] });
  const receiver = wire(reg, PEER, ME, terms);
  const frames: Uint8Array[] = [];
  sender.send(m, FRAME, (f) => frames.push(f));
  if (frames.length === 0) throw new Error('nothing sent');
  return frames.map((f) => receiver.decode(f, FRAME)).filter((x): x is Message => x !== undefined);
}
