/**
 * A log stream resumed from the peer's cursor, past keys withheld from other peers (acks.ts `withhold`).
 *
 * A resumed cursor counts no withheld key held (acks.ts `ack`): it may have been reached under another id, by a peer
 * restored from a copy whose old identity's link left the key out. But it is also all a writer hears of a peer that
 * stored the key while its acknowledgement was lost — the link dropped, or the writer's process ended, between the
 * peer's store and the ACK's arrival. With nothing more to send that peer, the key stayed pending for good (`whenSynced`
 * and its `w.synced` never resolving) although the peer held it (simulator seed withheld 1735200251, jittered).
 *
 * So the stream's start sends such keys to the peer again, as repair states: once the peer acknowledged them (frames
 * sent under its id), each counts as held up to its record's seq (acks.ts `heldBy`) — unless the link left it out
 * again, which withholds it from this peer too (a restored peer that cannot take it). Only keys that are pending, not
 * withheld from this peer, held by no peer as far as their records reach, and whose records the cursor passed (a newer
 * record is the stream's to carry) go; once one peer confirmed a key, no later resumed stream sends it again.
 */
import { stateOf } from '../dvv.js';
import type { Entry } from './messages.js';
import type { RepairAcks } from './repair-acks.js';
import type { SessionPort } from './space-sync.js';

/** Repair states a frame of this kind carries at most (as need-answers.ts sends them). */
const BATCH = 16;

/**
 * The peer's acknowledgement of our log in `space` up to `upTo`; `resumed`: its cursor our stream starts from. A session
 * the token grants read only (a server's) counts for nothing here: its ACKs and its cursor move its own stream (its
 * window) and no more. Acknowledgements are kept by replica id, and one principal's read-only session may say hello
 * under its writable replica's id: what it claims would count as that replica holding our log — our writes synced while
 * nobody stored them (its hello's cursor at our top, or ACKs of frames it never stored), and withheld keys held
 * (test/security/readonly-acks.test.ts). A reader's answers tell us only what to send it (SECURITY.md); the frames sent
 * to it are not noted for its id either (session.ts), nor is a key its link left out withheld from that id.
 */
export function streamAcked(session: SessionPort, space: string, upTo: number, resumed: boolean | undefined, repairs: RepairAcks): void {
  if (session.rightsFor(space) === 'read') return;
  const peer = session.peer!.replicaId;
  session.core.acks.ack(space, upTo, peer, resumed, session);
  if (resumed && upTo > 0) sendPassed(session, space, peer, upTo, repairs).catch((e: unknown) => session.fail(e));
}

async function sendPassed(session: SessionPort, space: string, peer: string, from: number, repairs: RepairAcks): Promise<void> {
  const { core } = session;
  // Withholds other instances on the storage stored (tabs) are among them once read.
  await core.acks.reads(space);
  const keys = core.acks.unheldFor(peer, space);
  if (keys.length === 0 || session.closed || core.isClosed) return;
  const entries: Entry[] = [];
  const seqs: number[] = [];
  for (const key of keys) {
    const rec = await core.storage.get(space, key);
    if (!rec || rec.seq > from) continue;
    entries.push([key, stateOf(rec)]);
    seqs.push(rec.seq);
  }
  if (entries.length === 0) return;
  for (let i = 0; i < entries.length; i += BATCH) await session.sendRepair(space, entries.slice(i, i + BATCH));
  // Every repair frame of the session sent so far (anti-entropy's too) acknowledged: these states are stored there.
  if (!(await repairs.settled()) || session.closed || core.isClosed) return;
  entries.forEach(([key], i) => core.acks.heldBy(peer, space, key, seqs[i]!));
}
