/**
 * What the presence of clients makes a replica that serves them (a relay) hold, counted per holder: each client
 * connection, each principal (a token's `sub`, across its connections) and whatever else the server names (a relay: the
 * client's IP address). The per-space caps (16 ids a sender, 4 096 entries) bound one space; a connection may be live
 * in 1 000 spaces, so one `*` token made the relay hold 1 000 × 16 × 4 KiB ≈ 64 MiB a connection (and as much again
 * for each connection of the same user or address), for 15 s after each heartbeat. An entry a holder has no room for
 * is refused (counted, as the per-space caps' are); the sender's entries already held stay.
 *
 * An entry costs its id, its metadata's JSON and ENTRY_OVERHEAD. Charges are what was taken; an entry that expired or
 * left is found gone (`cost` undefined) at every presence tick (ttl / 3), and when a holder is full — once a tick at
 * most: a holder at its budget sending one entry a frame would else make every frame walk all it holds.
 */

/** Bytes of presence a client's holders may make this replica hold. */
export interface PresenceBudget {
  /** One connection (default 1 MiB). */
  connection?: number;
  /** One principal, across its connections (default 4 MiB). */
  principal?: number;
  /** Further holders, each with its own budget (a relay: the client's address). */
  others?: ReadonlyArray<readonly [holder: string, bytes: number]>;
}

export const DEFAULT_PRESENCE_BUDGET = { connection: 1 << 20, principal: 4 << 20 } as const;

/** What an entry costs beyond its id and metadata (the entry, its maps' slots, its tombstone). */
export const ENTRY_OVERHEAD = 160;

export class Holding {
  bytes = 0;
  /** space + '\n' + id → bytes charged, and the payload (turn) that charged them. */
  readonly held = new Map<string, { b: number; t: number }>();
  /** The tick period of its last reconcile when full (once a period at most). */
  checked = -1;
}

/** The cost of an entry held now in a space (id and metadata), undefined when not held. */
export type HeldCost = (space: string, id: string) => number | undefined;

export class PresenceHolds {
  private readonly named = new Map<string, Holding>();
  private readonly channels = new WeakMap<object, Holding>();
  /** Counts payloads (and ticks): charges of the payload being read are not reconciled (its entries are not merged yet). */
  private turn = 0;
  /** Counts ticks: a full holder is reconciled at most once in each period. */
  private period = 0;

  constructor(private readonly cost: HeldCost) {}

  /** The holders of a client channel's entries, with their budgets. */
  holders(channel: object, principal: string | undefined, budget: PresenceBudget = {}): Array<readonly [Holding, number]> {
    let own = this.channels.get(channel);
    if (!own) this.channels.set(channel, (own = new Holding()));
    const out: Array<readonly [Holding, number]> = [[own, budget.connection ?? DEFAULT_PRESENCE_BUDGET.connection]];
    if (principal) out.push([this.holding(`principal:${principal}`), budget.principal ?? DEFAULT_PRESENCE_BUDGET.principal]);
    for (const [name, bytes] of budget.others ?? []) out.push([this.holding(name), bytes]);
    this.turn++;
    return out;
  }

  private holding(name: string): Holding {
    let h = this.named.get(name);
    if (!h) this.named.set(name, (h = new Holding()));
    return h;
  }

  /** Charges an entry of `bytes` (id and metadata) to every holder, or to none and answers false (no room). */
  take(holders: ReadonlyArray<readonly [Holding, number]>, space: string, id: string, bytes: number): boolean {
    const at = `${space}\n${id}`;
    const cost = bytes + ENTRY_OVERHEAD;
    for (const [h, budget] of holders) {
      const more = cost - (h.held.get(at)?.b ?? 0);
      if (more <= 0 || h.bytes + more <= budget) continue;
      if (h.checked !== this.period) (h.checked = this.period), this.reconcile(h);
      if (h.bytes + cost - (h.held.get(at)?.b ?? 0) > budget) return false;
    }
    for (const [h] of holders) {
      h.bytes += cost - (h.held.get(at)?.b ?? 0);
      h.held.set(at, { b: cost, t: this.turn });
    }
    return true;
  }

  /** Every holder's charges against what is held now; holders with nothing left forgotten (a presence tick). */
  tick(): void {
    this.turn++;
    this.period++;
    for (const [name, h] of this.named) if (this.reconcile(h) === 0) this.named.delete(name);
  }

  /** Charges set to what is held now, but those of the payload being read (`turn`): its entries are not merged yet. */
  private reconcile(h: Holding): number {
    for (const [at, charged] of h.held) {
      if (charged.t === this.turn) continue;
      const cut = at.indexOf('\n');
      const now = this.cost(at.slice(0, cut), at.slice(cut + 1));
      if (now === undefined) (h.held.delete(at), (h.bytes -= charged.b));
      else if (now + ENTRY_OVERHEAD !== charged.b) (h.held.set(at, { b: now + ENTRY_OVERHEAD, t: charged.t }), (h.bytes += now + ENTRY_OVERHEAD - charged.b));
    }
    return h.bytes;
  }
}
