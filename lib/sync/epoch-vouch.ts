/**
 * Chains of third replicas' epochs that a relay's client tells it (docs/design/epochs-build.md, "Records that never
 * arrive").
 *
 * A frame's epoch table carries the chain of every epoch it names. A relay learns a client's records of the client's
 * own epochs, and of another replica's only from a relay it trusts (wire.ts EpochChains.others): a record is fixed
 * once learned and judges every space, so a false one could never be corrected by the true one. But a third replica's
 * records may reach a relay through clients only — a restored writer whose loss a peer of its own showed tells that
 * peer its chain and re-identifies (epoch-chain.ts reidentifyTelling), and its former id never speaks to the relay
 * again; a writer met on a client-to-client link alone. A relay that cannot place the epoch keeps the context points
 * (and versions) every replica placing it drops as dominated, hands that form to its clients, and the two forms never
 * hash alike: a divergence for good (tabs 1733600006, restore-relay 7090 at SIM_SPEAKS=11).
 *
 * So a client is believed about replica X's records where its credential could say hello as X here: the relay's
 * authenticator accepts its token for X (a client token never speaks for a relay of the cluster), and X is bound to
 * no other principal — an anonymous session may claim any id no named principal owns, a named one the ids it owns
 * (principals.ts; an id no one owns is not believed from a named principal, since believing binds nothing: the
 * principal that binds it first would then find its true records refused). Such a client could have opened a session
 * as X and sent X's chain as its own, which is believed (EPOCHS), so believing it here gives it no power it lacks —
 * unless its credential writes in no space: then its hello teaches nothing (epoch-chain.ts peerEpochs `learns`), and
 * neither do its frames of X (test/review/readonly-vouch.test.ts).
 * Whether a hello could claim X is read from storage, so a frame's chains wait here and are learned before the frame
 * is handled (Session.handle), ahead of any join. X's records, when none were known, are held as a client's own are
 * (epoch-holds.ts: in memory while no state naming X is stored, forgotten with the session); one session learns at
 * most MAX_REPLICA_RECORDS records so. A chain conflicting with a known record, or past a bound, is not learned (the
 * known record stands) and the frame is still taken, as before: the client may have taken it from a peer of its own.
 * An id whose chain was not learned is not weighed again on that session (a client resends a third replica's chain in
 * every frame naming its epochs while the relay cannot place them): one owner lookup an id, not one a frame.
 */
import type { ReplicaCore } from '../core.js';
import { MAX_REPLICA_RECORDS, type EpochRecord } from '../epoch-points.js';
import type { EpochHolds } from './epoch-holds.js';
import type { Principals } from './principals.js';
import type { Grants } from './session-state.js';

/** Replica ids a session remembers it was refused for (a frame names at most 1 024 epochs). */
export const MAX_REFUSED = 4096;

/** What of a relay's session the vouching reads. */
export interface VouchPort {
  readonly core: ReplicaCore;
  readonly principals: Principals;
  readonly holds: EpochHolds;
  /** The session's principal ('' for none: principals.ts). */
  readonly principal: string;
  /** Whether the relay's authenticator accepts the session's token for a hello as `replicaId` that teaches records (`writes`). */
  accepts(replicaId: string): Promise<boolean>;
}

export class ChainVouch {
  private told: Array<{ readonly r: string; readonly records: readonly EpochRecord[] }> = [];
  private learned = 0;
  /** Replicas whose chain this session's was not learned (at most MAX_REFUSED kept): not weighed again. */
  private readonly refused = new Set<string>();

  constructor(
    private readonly port: VouchPort,
    private readonly session: object,
  ) {}

  /** A third replica's chain a frame told (wire.ts EpochChains.told); it waits only when the registry lacks a record of it. */
  readonly tell = (r: string, records: readonly EpochRecord[]): void => {
    const reg = this.port.core.epochs;
    if (r === this.port.core.replicaId || this.refused.has(r)) return;
    if (records.some((x) => reg.parentOf(r, x.e) === undefined)) this.told.push({ r, records });
  };

  /** Chains wait to be weighed (Session.handle settles them before the frame). */
  get waiting(): boolean {
    return this.told.length > 0;
  }

  /** Learns the waiting chains whose replica the session's credential speaks for, and stores them (not awaited). */
  async settle(): Promise<void> {
    let learned = false;
    for (const { r, records } of this.told.splice(0)) {
      if (this.refused.has(r)) continue;
      if (await this.learns(r, records)) {
        this.learned += records.length;
        learned = true;
      } else if (this.refused.size < MAX_REFUSED) this.refused.add(r);
    }
    if (learned) void this.port.core.saveEpochs().catch(() => {});
  }

  /** `r`'s chain learned from this session: within the bound, from a credential that speaks for `r`, conflicting with nothing. */
  private async learns(r: string, records: readonly EpochRecord[]): Promise<boolean> {
    if (this.learned + records.length > MAX_REPLICA_RECORDS) return false;
    if (!(await this.port.accepts(r)) || !(await this.port.principals.speaksFor(r, this.port.principal))) return false;
    this.port.holds.hold(this.session, r);
    return this.port.core.epochs.learnChain(r, records) === undefined;
  }
}

/** A relay's vouching on a session of a client it does not trust: the client's `token` is authenticated for an id as at a hello. */
export function clientVouch(
  hub: { readonly core: ReplicaCore; readonly principals: Principals; readonly epochHolds: EpochHolds },
  session: object,
  authenticate: (token: string, peerId: string) => Grants | Promise<Grants>,
  token: string,
  principal: string,
): ChainVouch {
  const accepts = async (id: string): Promise<boolean> => {
    try {
      return (await authenticate(token, id)).writes !== false;
    } catch {
      return false;
    }
  };
  return new ChainVouch({ core: hub.core, principals: hub.principals, holds: hub.epochHolds, principal, accepts }, session);
}
