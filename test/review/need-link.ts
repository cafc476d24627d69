/**
 * A relay's side of a link toward a peer below 11 on the wire alone (no session, no storage): `wire` sends, its frames
 * are decoded by `receiver` as the peer would, and `needs` runs NEED answers and `heard` as the space does. `heard` reads
 * no record: the core is not reached (only NEED's answers read one). Shared by the left-out ask reviews.
 */
import type { ReplicaCore } from '../../lib/core.js';
import type { Message } from '../../lib/sync/messages.js';
import { NeedAnswers } from '../../lib/sync/need-answers.js';
import type { Wire } from '../../lib/sync/wire.js';

export function needLink(wire: Wire, receiver: Wire, limit = 1 << 20) {
  const frames: Message[] = [];
  const send = (m: Message) => wire.send(m, limit, (f) => frames.push(receiver.decode(f, 1 << 20)!));
  const needs = new NeedAnswers(undefined as unknown as ReplicaCore, 's', {
    model: wire.model,
    send,
    lastSeq: async () => 0,
    sendRepair: async () => {},
    later: (fn, ms) => setTimeout(fn, ms).unref(),
    carriesEpochs: () => false,
    fail: (e) => {
      throw e;
    },
  });
  return { wire, frames, send, needs };
}
