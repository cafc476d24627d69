/**
 * The relink feature's faults (schedule.ts), drawn from their own stream (the tenth of a schedule's seed): the
 * application closes links and opens them again while traffic flows, as apps do on logout, a page going to the
 * background, a network change or a switch of relay.
 *
 *   unlink  a node closes its link to a peer (Link.close: an orderly close, what it could not send forgotten) and
 *           connects again after a gap (none at all, a few ms, up to 1.5 s); sometimes it closes the new link again
 *           within a few round trips of its opening (mid-catch-up, mid-anti-entropy)
 *   twin    a node opens a second link to a peer it is linked to already (another connection to the same relay or
 *           peer, under the same transport label), for a while; then it closes one of the two — the second, or the
 *           first (connecting that again later) — and in some schedules the second stays open to the end
 *   move    a relay client leaves its relay for the other one (a relay-hub of two relays) and comes back later, or
 *           only at heal
 *   relay   a relay restarts (a fresh id) while its clients re-link around it
 *
 * A dialing end closes and opens (for a relay's edge, the client; between two relays, the first named). Each twin and
 * move runs over a spare edge of its own (Schedule.spares), which the cluster connects only on its fault. At heal
 * every closed link of an edge is connected again and the spares of moves close (run-schedule.ts).
 */
import type { Rng } from './clock.js';
import type { Fault, Timed } from './schedule.js';

export interface RelinkContext {
  rng: Rng;
  /** Whether the feature is on (every draw is made either way). */
  on: boolean;
  nodes: string[];
  relays: string[];
  edges: Array<[string, string]>;
  duration: number;
  maxLatency: number;
  faults: Array<Timed<Fault>>;
}

/** The end of an edge that dials (Cluster: a relay's client; between relays the first by name), and the other. */
export function dialerOf([a, b]: readonly [string, string], relays: readonly string[]): [string, string] {
  const ra = relays.includes(a);
  const rb = relays.includes(b);
  if (ra && rb) return a < b ? [a, b] : [b, a];
  return ra ? [b, a] : [a, b];
}

/** Adds the relink faults; returns the spare edges they run over (dialer first), by index. */
export function relinkFaults({ rng, on, nodes, relays, edges, duration, maxLatency, faults }: RelinkContext): Array<[string, string]> {
  const spares: Array<[string, string]> = [];
  const add = (f: Timed<Fault>) => on && faults.push(f);
  // None (the new link's hello goes while the old session's close is still on its way), a few ms, or a while.
  const gapOf = () => rng.pick([0, 0, rng.int(1, 50), rng.int(50, 1500)]);
  for (let i = 0, count = rng.int(3, 10); i < count; i++) {
    const edge = rng.pick(edges);
    const [dialer, other] = dialerOf(edge, relays);
    // Between two peers either end may close (the other's link retries until it opens again).
    const peerToPeer = !relays.includes(edge[0]) && !relays.includes(edge[1]);
    const [node, peer] = peerToPeer && rng.chance(0.5) ? [other, dialer] : [dialer, other];
    const at = rng.int(0, duration);
    const gap = gapOf();
    // Again within a few round trips of the new link's opening: its catch-up and anti-entropy still running.
    const again = rng.chance(0.4);
    const soon = rng.int(1, 6 * maxLatency);
    const gap2 = rng.int(0, 500);
    add({ at, node, what: { kind: 'unlink', node, peer, gap } });
    if (again) add({ at: at + gap + soon, node, what: { kind: 'unlink', node, peer, gap: gap2 } });
  }
  for (let i = 0, count = rng.int(0, 3); i < count; i++) {
    const [node, peer] = dialerOf(rng.pick(edges), relays);
    const at = rng.int(0, duration);
    const hold = rng.int(100, 2000);
    const closeFirst = rng.chance(0.5);
    const gap = gapOf();
    const keep = rng.chance(0.3);
    if (!on) continue;
    spares.push([node, peer]);
    add({ at, node, what: { kind: 'twin', node, peer, spare: spares.length - 1, for: hold, closeFirst, gap, keep } });
  }
  // A client of one relay of two moves to the other.
  const clients = nodes.filter((x) => !relays.includes(x) && edges.filter((e) => e.includes(x) && e.some((y) => relays.includes(y))).length === 1);
  for (let i = 0, count = rng.int(0, 2); i < count; i++) {
    const node = clients.length ? rng.pick(clients) : nodes[0]!;
    const from = edges.find((e) => e.includes(node) && e.some((y) => y !== node && relays.includes(y)))?.find((y) => y !== node);
    const to = relays.find((r) => r !== from);
    const at = rng.int(0, duration);
    const away = rng.chance(0.3) ? undefined : rng.int(200, 2000);
    if (!on || relays.length < 2 || !from || !to) continue;
    spares.push([node, to]);
    add({ at, node, what: { kind: 'move', node, from, to, spare: spares.length - 1, ...(away !== undefined ? { for: away } : {}) } });
  }
  for (let i = 0, count = rng.int(0, 2); i < count; i++) {
    const at = rng.int(0, duration);
    const node = relays.length ? rng.pick(relays) : nodes[0]!;
    const down = rng.int(0, 800);
    if (relays.length) add({ at, node, what: { kind: 'restart', node, down } });
  }
  return spares;
}
