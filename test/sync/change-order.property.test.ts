/**
 * ChangeOrder (lib/change-order.ts) against the walk it replaced: on random schedules of records applied and told
 * (mostly in order, some out of order, seqs applied twice after a rollback, tells of seqs never applied), the lowest
 * untold seq and every `told` answer match a model that keeps each key's untold seqs in a list and walks them all.
 * The seed is printed; SEED=<n> replays it.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ChangeOrder } from '../../lib/change-order.js';

/** The model: the implementation before the heap (a walk of every untold seq per question). */
class WalkModel {
  private readonly untold = new Map<string, number[]>();
  private readonly newest = new Map<string, number>();

  lowestUntold(): number {
    let low = Infinity;
    for (const seqs of this.untold.values()) for (const n of seqs) if (n < low) low = n;
    return low;
  }

  applied(space: string, key: string, seq: number): void {
    const id = `${space}\n${key}`;
    const seqs = this.untold.get(id);
    if (seqs) seqs.push(seq);
    else this.untold.set(id, [seq]);
  }

  told(space: string, key: string, seq: number): boolean {
    const id = `${space}\n${key}`;
    const seqs = this.untold.get(id);
    if (seqs === undefined) return false;
    const at = seqs.indexOf(seq);
    if (at >= 0) seqs.splice(at, 1);
    const stale = (this.newest.get(id) ?? 0) > seq;
    if (seqs.length === 0) {
      this.untold.delete(id);
      this.newest.delete(id);
    } else if (!stale && seqs.some((n) => n < seq)) this.newest.set(id, seq);
    return stale;
  }
}

type Op =
  | { t: 'apply'; space: number; key: number; back: number }
  | { t: 'tell'; pick: number; late: boolean }
  | { t: 'tellStray'; space: number; key: number; seq: number }
  | { t: 'ask' };

const op: fc.Arbitrary<Op> = fc.oneof(
  // back > 0: a seq below the top (a rolled-back transaction's seq minted again, or a join applied late)
  { weight: 5, arbitrary: fc.record({ t: fc.constant('apply' as const), space: fc.nat(2), key: fc.nat(5), back: fc.oneof({ weight: 6, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat(6) }) }) },
  // late: tell a random untold record rather than the oldest
  { weight: 5, arbitrary: fc.record({ t: fc.constant('tell' as const), pick: fc.nat(1000), late: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('tellStray' as const), space: fc.nat(2), key: fc.nat(5), seq: fc.nat(60) }) },
  { weight: 2, arbitrary: fc.constant({ t: 'ask' as const }) },
);

describe('ChangeOrder', () => {
  it('answers as the walk over every untold record does, on random schedules', () => {
    const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31));
    console.log(`change-order property: seed ${seed} (SEED=${seed} replays it)`);
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const order = new ChangeOrder();
        const model = new WalkModel();
        const inFlight: Array<[string, string, number]> = [];
        let top = 0;
        for (const o of ops) {
          if (o.t === 'apply') {
            const seq = o.back > 0 ? Math.max(1, top - o.back) : ++top;
            const rec: [string, string, number] = [`s${o.space}`, `k${o.key}`, seq];
            inFlight.push(rec);
            order.applied(...rec);
            model.applied(...rec);
          } else if (o.t === 'tell') {
            if (inFlight.length === 0) continue;
            const at = o.late ? o.pick % inFlight.length : 0;
            const [rec] = inFlight.splice(at, 1);
            expect(order.told(...rec!)).toBe(model.told(...rec!));
          } else if (o.t === 'tellStray') {
            expect(order.told(`s${o.space}`, `k${o.key}`, o.seq)).toBe(model.told(`s${o.space}`, `k${o.key}`, o.seq));
          }
          if (o.t === 'ask' || o.t === 'tell') expect(order.lowestUntold()).toBe(model.lowestUntold());
        }
        // everything told: nothing untold remains
        for (const rec of inFlight.splice(0)) expect(order.told(...rec)).toBe(model.told(...rec));
        expect(order.lowestUntold()).toBe(Infinity);
        expect(model.lowestUntold()).toBe(Infinity);
      }),
      { seed, numRuns: 2000 },
    );
  });

  it('records applied in seq order and told oldest first wait in the queue: no key of theirs is held in the maps', () => {
    // A group commit of 100 000 puts in flight (bench S4) tells them in the order applied: two map writes, a map
    // delete and a heap push and pop per put were a tenth of the durable path's time. The first record told out of
    // order moves them into the maps, which then answer as before.
    const order = new ChangeOrder();
    const held = () => (order as unknown as { keys: number }).keys;
    for (let n = 1; n <= 5000; n++) order.applied('s', `k${n % 4000}`, n);
    expect(held()).toBe(0);
    expect(order.lowestUntold()).toBe(1);
    for (let n = 1; n <= 4000; n++) expect(order.told('s', `k${n % 4000}`, n)).toBe(false);
    expect(held()).toBe(0);
    expect(order.lowestUntold()).toBe(4001);
    // out of order: k4001's record (seq 4002) told before k4000's (seq 4001); then a newer record of k4001 told
    // while its older one is untold makes that one stale, as ever
    expect(order.told('s', 'k2', 4002)).toBe(false);
    expect(held()).toBeGreaterThan(0);
    expect(order.lowestUntold()).toBe(4001);
    order.applied('s', 'k3', 6000);
    expect(order.told('s', 'k3', 6000)).toBe(false);
    expect(order.told('s', 'k3', 4003)).toBe(true);
    for (let n = 4001; n <= 5000; n++) if (n !== 4002 && n !== 4003) order.told('s', `k${n % 4000}`, n);
    expect(order.lowestUntold()).toBe(Infinity);
    expect(held()).toBe(0);
  });

  it('a burst told in order, with one early record untold, answers that record at every step', () => {
    const order = new ChangeOrder();
    order.applied('s', 'held', 1);
    for (let n = 2; n <= 10_000; n++) order.applied('s', `k${n}`, n);
    for (let n = 2; n <= 10_000; n++) {
      order.told('s', `k${n}`, n);
      if (n % 1000 === 0) expect(order.lowestUntold()).toBe(1);
    }
    order.told('s', 'held', 1);
    expect(order.lowestUntold()).toBe(Infinity);
  });
});
