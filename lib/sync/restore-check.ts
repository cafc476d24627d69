/**
 * What a peer's hello says about a restore of this replica (epochs.ts, DESIGN: restore detection by direct
 * witnesses). 'reidentify': the peer holds a dot we delivered that our storage lost; a client takes its relay's
 * word (and peers theirs), a relay only a relay's of its cluster (`trusted`). 'rehello': our own hello was made for
 * another replica than this peer (its id changed, or we did not know it), so it could not carry the dots of this
 * peer we hold, and the peer could not tell whether it lost any: say hello again, made for it, before anything else
 * (only a dialer can: `sentExpect` is what its hello expected, undefined for a session that cannot reconnect).
 */
import { lostWrites } from '../epochs.js';
import type { ReplicaCore } from '../core.js';
import type { Hello } from './messages.js';

export async function restoreVerdict(core: ReplicaCore, m: Hello, trusted: boolean, sentExpect: string | undefined): Promise<'reidentify' | 'rehello' | undefined> {
  if (trusted && m.expect === core.replicaId && m.seen && lostWrites(core.history, await core.storedTop(), m.seen)) return 'reidentify';
  if (sentExpect !== undefined && sentExpect !== m.replicaId && (await core.seen(m.replicaId))) return 'rehello';
  return undefined;
}
