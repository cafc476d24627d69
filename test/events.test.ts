/** The emitter's contract (events.ts): listeners run in the order added, each once, over the live list. */
import { describe, expect, it } from 'vitest';
import { Emitter } from '../lib/events.js';

type E = { x: number; error: unknown };

describe('Emitter', () => {
  it('runs listeners in order, each once however often added; off removes it', () => {
    const em = new Emitter<E>();
    const seen: string[] = [];
    const a = (n: number) => void seen.push(`a${n}`);
    const offA = em.on('x', a);
    em.on('x', a);
    em.on('x', (n) => void seen.push(`b${n}`));
    em.emit('x', 1);
    offA();
    em.emit('x', 2);
    expect(seen).toEqual(['a1', 'b1', 'b2']);
    expect(em.has('x')).toBe(true);
  });

  it('skips a listener removed during an emit and runs one added during it', () => {
    const em = new Emitter<E>();
    const seen: string[] = [];
    let offC: () => void = () => {};
    em.on('x', (n) => {
      seen.push(`a${n}`);
      offC();
      if (n === 1) em.on('x', (m) => void seen.push(`d${m}`));
    });
    em.on('x', (n) => void seen.push(`b${n}`));
    offC = em.on('x', (n) => void seen.push(`c${n}`));
    em.emit('x', 1);
    em.emit('x', 2);
    expect(seen).toEqual(['a1', 'b1', 'd1', 'a2', 'b2', 'd2']);
  });

  it('a nested emit sees the same live list; a listener removed and added again runs once, at the end', () => {
    const em = new Emitter<E>();
    const seen: string[] = [];
    const b = (n: number) => void seen.push(`b${n}`);
    let offB = () => {};
    em.on('x', (n) => {
      seen.push(`a${n}`);
      if (n === 1) {
        offB();
        offB = em.on('x', b);
        em.emit('x', 2);
      }
    });
    offB = em.on('x', b);
    em.emit('x', 1);
    expect(seen).toEqual(['a1', 'a2', 'b2', 'b1']);
    offB();
    expect(em.has('x')).toBe(true);
    seen.length = 0;
    em.emit('x', 3);
    expect(seen).toEqual(['a3']);
  });

  it('a throwing listener is reported as an error and the rest still run', () => {
    const em = new Emitter<E>();
    const errors: unknown[] = [];
    const seen: number[] = [];
    em.on('error', (e) => void errors.push(e));
    em.on('x', () => {
      throw new Error('boom');
    });
    em.on('x', (n) => void seen.push(n));
    em.emit('x', 7);
    expect(seen).toEqual([7]);
    expect((errors[0] as Error).message).toBe('boom');
  });

  it('an off through the abort signal removes the listener', () => {
    const em = new Emitter<E>();
    const ac = new AbortController();
    const seen: number[] = [];
    em.on('x', (n) => void seen.push(n), { signal: ac.signal });
    ac.abort();
    em.emit('x', 1);
    expect(seen).toEqual([]);
    expect(em.has('x')).toBe(false);
  });
});
