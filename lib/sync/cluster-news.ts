/**
 * Cluster news: what a relay of a cluster tells its clients in CLUSTER messages (type 10, JSON).
 *
 *   { "relays": ["ws://a:8787", "ws://b:8787"] }           the alive relays' public URLs (this one included):
 *                                                          a client's transport may fail over to any of them
 *   { "rep": { "s": space, "u": upTo, "n": count } }       `count` relays (this one included) hold the
 *                                                          client's change log in `space` up to seq `upTo`
 *
 * Counts are monotone facts about a prefix of the client's log: relays acknowledge cursors, so a relay that
 * holds seq u holds every seq below it. Inbound news is untrusted: `parseNews` checks every field and
 * returns undefined for anything else (the receiver ignores it, so newer relays can add kinds).
 */
export type ClusterNews =
  | { kind: 'relays'; relays: string[] }
  | { kind: 'replicated'; space: string; upTo: number; count: number };

const MAX_RELAYS = 256;
const MAX_URL = 2048;

export function encodeNews(n: ClusterNews): string {
  return n.kind === 'relays' ? JSON.stringify({ relays: n.relays }) : JSON.stringify({ rep: { s: n.space, u: n.upTo, n: n.count } });
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;

export function parseNews(json: string): ClusterNews | undefined {
  let x: unknown;
  try {
    x = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!x || typeof x !== 'object' || Array.isArray(x)) return undefined;
  const o = x as Record<string, unknown>;
  if (Array.isArray(o.relays)) {
    const relays = o.relays.filter((u): u is string => typeof u === 'string' && u.length > 0 && u.length <= MAX_URL && /^wss?:\/\//.test(u)).slice(0, MAX_RELAYS);
    return { kind: 'relays', relays };
  }
  const rep = o.rep;
  if (rep && typeof rep === 'object' && !Array.isArray(rep)) {
    const r = rep as Record<string, unknown>;
    if (typeof r.s === 'string' && r.s.length > 0 && r.s.length <= 128 && isCount(r.u) && isCount(r.n)) return { kind: 'replicated', space: r.s, upTo: r.u, count: r.n };
  }
  return undefined;
}

/** A session's outgoing news, held until both hellos went (the peer expects our hello first), then sent as it comes. */
export class NewsQueue {
  private held: string[] | undefined = [];

  constructor(private readonly send: (json: string) => void) {}

  push(json: string): void {
    if (this.held) this.held.push(json);
    else this.send(json);
  }

  /** The hellos went: what was held goes, and what comes from now on goes at once. */
  flush(): void {
    const held = this.held ?? [];
    this.held = undefined;
    for (const json of held) this.send(json);
  }
}
