/** Links of one replica's group (sent-notes.ts) for the peer model's tests, and the one-version states they send. */
import type { KeyState, StoredVersion } from '../../lib/dvv.js';
import { PeerModel } from '../../lib/sync/peer-model.js';

export const v = (r: string, n: number): StoredVersion => ({ r, n, t: n, c: 0, v: JSON.stringify(`${r}${n}`) });
export const one = (r: string, n: number): KeyState => ({ vs: [v(r, n)], cc: { [r]: n } });

/** A model of a link of `owner`'s group (a relay's session shares its hub's: session.ts). */
export const linked = (owner: object): PeerModel => {
  const m = new PeerModel();
  m.share(owner);
  return m;
};
