/**
 * What a peer's hello says about a restore of this replica (epochs.ts, DESIGN: restore detection by direct
 * witnesses). 'reidentify': the peer holds a dot we delivered that our storage lost. A client takes its relay's
 * word (and peers theirs), a relay only a relay's of its cluster (`trusted`) — or its own: a client's hello may echo
 * what the relay signed it delivered (attest.ts), and a relay that finds its own signature on a dot its storage lost
 * was restored, whoever brings it. 'rehello': our own hello was made for another replica than this peer (its id
 * changed, or we did not know it), so it could not carry the dots of this peer we hold, and the peer could not tell
 * whether it lost any: say hello again, made for it, before anything else (only a dialer can: `sentExpect` is what
 * its hello expected, undefined for a session that cannot reconnect).
 */
import { verifyAttestation } from '../attest.js';
import { lostWrites } from '../epochs.js';
import type { ReplicaCore } from '../core.js';
import type { Hello } from './messages.js';

export async function restoreVerdict(core: ReplicaCore, m: Hello, trusted: boolean, sentExpect: string | undefined): Promise<'reidentify' | 'rehello' | undefined> {
  if (m.expect === core.replicaId) {
    if (trusted && m.seen && lostWrites(core.history, await core.storedTop(), m.seen)) return 'reidentify';
    // The signature is checked only when the claim would matter (a relay restored is rare; hellos are not).
    const a = m.attest;
    if (a && lostWrites(core.history, await core.storedTop(), a) && (await verifyAttestation(core.storage, core.replicaId, a))) return 'reidentify';
  }
  if (sentExpect !== undefined && sentExpect !== m.replicaId && (await core.seen(m.replicaId))) return 'rehello';
  return undefined;
}
