/**
 * Keys a link asked a peer below protocol 11 for (NEED: wire.ts, peer-model.ts `toAsk`) and that are not settled yet:
 * they outlive the link that asked, per peer, in the replica's memory.
 *
 * Why: the ask is made once, by the link whose frame left the key out (its state names an epoch); the peer's answer —
 * its state of the key — is what lets that link tell the key's context alone lowered to it (need-answers.ts `heard`).
 * A link dropped between the NEED and its answer lost both, and the next link never met the key again: the peer's
 * cursor had passed the frame that left it out, so nothing sent, left out or asked it, and without anti-entropy the
 * peer kept a version the state superseded for good (review r0010's probe, the restore-once 1743400010 outcome). So
 * the next link to the peer sends each key still open here as a repair state (need-answers.ts `reask`): left out again,
 * it is noted and asked for as on the first link, and the answer settles it.
 *
 * An ask settles once a link holding the key's note hears the peer's state of it (the context alone then goes lowered
 * to it), once a link leaves the key out knowing the peer's state (no ask needed), or once its state goes whole (the peer
 * upgraded, or the key's state names no epoch now). Each link asks a key once (peer-model.ts `asked`): a link that keeps
 * dropping asks once per link, no more.
 *
 * Memory only: a restart of this replica forgets them (then the peer keeps the version until a run or the key's next
 * write, as before). Bounded: MAX_OPEN ids across peers; past it the peer that asked least recently loses its asks.
 */
const MAX_OPEN = 16_384;

/** `space\0key` ids of one peer's open asks. */
export class PeerAsks {
  readonly ids = new Set<string>();
  /** Its peer's asks went past MAX_OPEN (OpenAsks `room`): a link still holding this keeps none. */
  gone = false;

  constructor(
    readonly peer: string,
    private readonly all: OpenAsks,
  ) {}

  add(id: string): void {
    if (this.gone) return;
    if (this.ids.has(id)) return this.all.touched(this); // asked again: the most recent, no more held
    this.ids.add(id);
    this.all.added(this);
  }

  delete(id: string): void {
    if (this.ids.delete(id)) this.all.size--;
  }
}

export class OpenAsks {
  /** peer → its open asks, least recently asking first. */
  private readonly peers = new Map<string, PeerAsks>();
  size = 0;

  /** The open asks of `peer` (a link to it binds them: peer-model.ts). */
  of(peer: string): PeerAsks {
    let asks = this.peers.get(peer);
    if (!asks) this.peers.set(peer, (asks = new PeerAsks(peer, this)));
    return asks;
  }

  /** `asks` asked again for an id it holds: it is the most recent. */
  touched(asks: PeerAsks): void {
    this.peers.delete(asks.peer);
    this.peers.set(asks.peer, asks);
  }

  /** `asks` took one more id: it is the most recent; past MAX_OPEN the least recent peers' go, then its own oldest. */
  added(asks: PeerAsks): void {
    this.touched(asks);
    this.size++;
    for (const a of this.peers.values()) {
      if (this.size <= MAX_OPEN || a === asks) break;
      this.size -= a.ids.size;
      a.ids.clear();
      a.gone = true;
      this.peers.delete(a.peer);
    }
    for (const id of asks.ids) {
      if (this.size <= MAX_OPEN) return;
      asks.delete(id);
    }
  }
}

const byReplica = new WeakMap<object, OpenAsks>();

/** The open asks of a replica (its ReplicaCore), made on first use. */
export function openAsksOf(core: object): OpenAsks {
  let asks = byReplica.get(core);
  if (!asks) byReplica.set(core, (asks = new OpenAsks()));
  return asks;
}
