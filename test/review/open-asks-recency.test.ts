/**
 * rev45b: open-asks.ts says "past MAX_OPEN the peer that asked least recently loses its asks". A peer whose every new
 * link asks the same key again (reask: left out again, asked again, `opened` adds the same id) asks most recently, yet
 * an id it already holds does not move it: fresh ids churned by others flush it first.
 */
import { describe, expect, it } from 'vitest';
import { OpenAsks } from '../../lib/sync/open-asks.js';

describe('open asks recency (rev45b)', () => {
  it('a peer asking the same key again counts as asking recently when fresh ids churn past the bound', () => {
    const all = new OpenAsks();
    const writer = all.of('writer');
    writer.add('s\u0000k');
    for (let i = 0; i < 16_000; i++) all.of(`churn-${i}`).add('s\u0000x');
    writer.add('s\u0000k'); // the writer's next link asks the key again
    for (let i = 16_000; i < 16_390; i++) all.of(`churn-${i}`).add('s\u0000x');
    expect(all.size).toBeLessThanOrEqual(16_384);
    expect(all.of('writer').ids.has('s\u0000k')).toBe(true);
  });
});
