/**
 * Review of r0010: `heard` (need-answers.ts) runs on every CHANGES frame of the peer's at every protocol, and a key this
 * link left out because it is too large (wire.ts LEFT OUT: a peer that takes no parts) is noted as one left out too. Two
 * replicas both running it, each leaving out its own big sibling of the same key toward the other: each one's context
 * frame is a CHANGES frame naming the key, which the other hears. Is there a loop — each re-telling its context because
 * the other's came? The link must fall quiet, and stay so.
 */
import { describe, expect, it } from 'vitest';
import { pairTransports } from '../../lib/index.js';
import { until } from '../sync/support.js';
import { FRAME, replica, track } from './narrow-links.js';

const big = (c: string) => c.repeat(30 * 1024);
const rest = () => new Promise((r) => setTimeout(r, 300));

describe('review r0010: two replicas leaving out their own big siblings of one key toward each other', () => {
  it('exchange contexts and fall quiet, through rounds of concurrent big writes of the key', async () => {
    const a = await replica(true); // take no key in parts: big states cannot cross
    const b = await replica(true);
    const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
    track(a.connect(ta, { antiEntropyInterval: 0 }));
    track(b.connect(tb, { antiEntropyInterval: 0 }));
    const frames = () => ta.stats.frames + tb.stats.frames;
    // k written small by a, then over it by b: each big write after names the other's entry, whose context goes whole.
    await a.space('s').put('k', 'a-small');
    await until(async () => (await b.space('s').get('k'))?.value === 'a-small', 'k at b');
    await b.space('s').put('k', 'b-small');
    await until(async () => (await a.space('s').get('k'))?.value === 'b-small', 'k at a');
    for (let round = 0; round < 4; round++) {
      await Promise.all([a.space('s').put('k', big(`a${round}`)), b.space('s').put('k', big(`b${round}`))]);
      await a.space('s').put(`small${round}`, round);
      await until(async () => (await b.space('s').get(`small${round}`))?.value === round, `round ${round} crossed`);
      await rest();
      const quiet = frames();
      await rest();
      expect(frames(), `round ${round}: no frame once quiet`).toBe(quiet);
    }
    // Neither big crossed; each side keeps its own.
    expect((await a.space('s').get('k'))?.siblings).toEqual([big('a3')]);
    expect((await b.space('s').get('k'))?.siblings).toEqual([big('b3')]);
  });
});
