/**
 * The pure arithmetic of SWIM's timing, so each rule is a table-tested function of its inputs
 * (cluster size, multipliers, interval) rather than a constant buried in a timer.
 *
 * - A suspect must have time to hear of its suspicion and refute it. Gossip reaches everyone in
 *   O(log N) rounds, so the timeout grows with log N: `mult × max(1, log10 n) × interval`. Below
 *   10 members the scale is 1, so a small cluster still waits `mult` whole intervals.
 * - An update is piggybacked `mult × ceil(log10(n + 1))` times before it leaves the queue: enough
 *   transmissions, with every member forwarding, to reach all n members with high probability.
 */

/** Milliseconds a member stays suspect before it is declared dead. n: members in the cluster, self included. */
export function suspicionTimeout(mult: number, n: number, interval: number): number {
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return Math.round(mult * scale * interval);
}

/** Times an update is piggybacked before it is dropped from the queue. n: members, self included. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(Math.max(0, n) + 1));
}
