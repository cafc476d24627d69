// lib/sync/over-bound.ts: a key whose value is over what this replica takes is lacked from the peer and told once —
// anti-entropy brings the same state at every run, a new link asks for it again: those are not told again; a newer
// version over the bound is. A relay (no lacks) refuses the frame.
import { describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/index.js';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import { Lacks } from '../../lib/sync/lacks.js';
import { lackOverBound, type Over } from '../../lib/sync/over-bound.js';
import { ProtocolError } from '../../lib/sync/codec.js';

describe('a value over the bound, lacked', () => {
  it('is told once per state of the key, and refused where no lacks are kept', () => {
    const reported: unknown[] = [];
    const lacks = new Lacks(() => NO_EPOCHS, () => {}, (e) => reported.push(e));
    const big = (n: number): Over => [['big', [{ r: 'w', e: '', n }]]];
    lackOverBound(lacks, true, 'relay', 's', big(3));
    lackOverBound(lacks, true, 'relay', 's', big(3)); // the next run's state
    expect(reported).toHaveLength(1);
    expect(reported[0]).toBeInstanceOf(ConcordError);
    expect(lacks.keys('relay', 's')).toEqual(['big']);
    lackOverBound(lacks, true, 'relay', 's', big(4)); // a newer version, over too
    expect(reported).toHaveLength(2);
    lackOverBound(lacks, true, 'other', 's', big(4)); // from another peer
    expect(reported).toHaveLength(3);
    expect(() => lackOverBound(new Lacks(() => NO_EPOCHS, () => {}, () => {}), false, 'client', 's', big(1))).toThrow(ProtocolError);
  });
});
