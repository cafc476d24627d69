/**
 * RecordQueue (lib/record-queue.ts), the queue of records applied and not told (change-order.ts) or heard of
 * (ahead-notes.ts) yet: first in, first out across its chunks, and neither growing nor draining copies what it holds —
 * the queues that held 100 000 puts in flight on file storage (S4) were arrays, copied again as they grew and sliced as
 * they drained. The seed of the random schedule is printed; SEED=<n> replays it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ChangeOrder } from '../../lib/change-order.js';
import { prng } from '../../lib/check-merge.js';
import { RecordQueue } from '../../lib/record-queue.js';

afterEach(() => vi.restoreAllMocks());

describe('RecordQueue', () => {
  it('gives back what was pushed, in order, across chunks, as pushes, shifts and clears interleave at random', () => {
    const seed = Number(process.env.SEED ?? Date.now() % 2 ** 31);
    const random = prng(seed);
    const q = new RecordQueue();
    // the model: an array read from `head` (what was shifted stays before it)
    const model: Array<[string, string, number]> = [];
    let head = 0;
    let seq = 0;
    const fail = (what: string) => {
      throw new Error(`${what} (seed ${seed})`);
    };
    try {
      for (let step = 0; step < 10_000; step++) {
        const r = random();
        if (r < 0.55) {
          // bursts, so the queue spans several chunks at times
          for (let n = random() < 0.05 ? 3000 : 1; n > 0; n--) {
            const t: [string, string, number] = [`s${seq % 3}`, `k${seq % 97}`, ++seq];
            q.push(...t);
            model.push(t);
          }
        } else if (r < 0.98) {
          for (let n = random() < 0.05 ? 2500 : 1; n > 0 && head < model.length; n--) {
            const [space, key, s] = model[head++]!;
            if (q.firstSpace !== space || q.firstKey !== key || q.firstSeq !== s) fail(`front is not ${space} ${key} ${s}`);
            q.shift();
          }
        } else if (r < 0.99) {
          let at = head;
          q.forEach((space, key, s) => {
            const t = model[at++];
            if (!t || t[0] !== space || t[1] !== key || t[2] !== s) fail(`forEach gave ${space} ${key} ${s} at ${at - 1}`);
          });
          if (at !== model.length) fail(`forEach stopped at ${at} of ${model.length}`);
        } else {
          q.clear();
          model.length = head = 0;
        }
        if (q.size !== model.length - head) fail(`size ${q.size}, not ${model.length - head}`);
        if (q.size > 0 && q.lastSeq !== model[model.length - 1]![2]) fail('last seq');
      }
    } catch (e) {
      console.log(`RecordQueue schedule failed: SEED=${seed} replays it`);
      throw e;
    }
  });

  it('a change order holding 10 000 records in flight copies none of them as they are applied and told in order', () => {
    const order = new ChangeOrder();
    const slices = vi.spyOn(Array.prototype, 'slice');
    const n = 10_000;
    for (let i = 1; i <= n; i++) order.applied('s', `k${i}`, i);
    expect(order.lowestUntold()).toBe(1);
    for (let i = 1; i <= 9_000; i++) expect(order.told('s', `k${i}`, i)).toBe(false);
    expect(order.lowestUntold()).toBe(9_001);
    expect(slices).not.toHaveBeenCalled();
    for (let i = 9_001; i <= n; i++) expect(order.told('s', `k${i}`, i)).toBe(false);
    expect(order.lowestUntold()).toBe(Infinity);
  });
});
