/**
 * open-asks.ts: the asks of earlier-release peers that outlive a link, bounded across peers (a relay meets countless
 * clients, each of which a forged or fresh id makes new).
 */
import { describe, expect, it } from 'vitest';
import { OpenAsks, type AsksStore } from '../../lib/sync/open-asks.js';

describe('open asks', () => {
  it('stay per peer until settled, and a peer asked again counts once', () => {
    const all = new OpenAsks();
    const p = all.of('p');
    p.add('s\u0000k');
    p.add('s\u0000k');
    expect(all.of('p')).toBe(p);
    expect([...all.of('p').ids]).toEqual(['s\u0000k']);
    expect(all.size).toBe(1);
    p.delete('s\u0000k');
    p.delete('s\u0000k');
    expect(all.size).toBe(0);
  });

  it('20 000 asks of 2 000 peers keep at most 16 384, the least recently asking peers going first', () => {
    const all = new OpenAsks();
    for (let i = 0; i < 2_000; i++) for (let j = 0; j < 10; j++) all.of(`peer-${i}`).add(`s\u0000k${j}`);
    expect(all.size).toBeLessThanOrEqual(16_384);
    let counted = 0;
    for (let i = 0; i < 2_000; i++) counted += all.of(`peer-${i}`).ids.size;
    expect(counted).toBe(all.size);
    // The earliest peers went whole (a link still holding one keeps nothing more); the latest kept theirs.
    const first = all.of('peer-0');
    expect(first.ids.size).toBe(0);
    expect(all.of('peer-1999').ids.size).toBe(10);
  });

  it('one peer asking past the bound keeps its latest asks', () => {
    const all = new OpenAsks();
    const p = all.of('p');
    for (let j = 0; j < 20_000; j++) p.add(`s\u0000k${j}`);
    expect(all.size).toBe(16_384);
    expect(p.ids.has('s\u0000k19999')).toBe(true);
    expect(p.ids.has('s\u0000k0')).toBe(false);
  });

  // A tab taking the network role reads the asks its predecessor stored (open-asks-store.ts): they join those asked here.
  it('asks read back join those in memory, which stay the most recent: past the bound the stored peers go first', () => {
    const all = new OpenAsks();
    const here = all.of('here');
    for (let j = 0; j < 10; j++) here.add(`s\u0000k${j}`);
    const stored = Array.from({ length: 2_000 }, (_, i) => [`stored-${i}`, Array.from({ length: 10 }, (_, j) => `s\u0000k${j}`)] as const);
    all.restore([['here', ['s\u0000old']], ...stored]);
    expect(all.size, 'whole peers go').toBe(20_011 - 363 * 10);
    expect(all.of('here').ids.size, "memory's peer kept all, the stored one joined").toBe(11);
    expect(all.of('stored-1999').ids.size).toBe(10);
    expect(all.of('stored-0').ids.size).toBe(0);
    expect(all.list().at(-1)?.[0], 'still the most recent').toBe('here');
  });
  it("a read-only session's asks (kept: false) change nothing the store writes, and wait for no write", () => {
    const all = new OpenAsks();
    const calls: string[] = [];
    const store: AsksStore = {
      changed: (peer, id) => void calls.push(`changed ${peer ?? ''} ${id ?? ''}`),
      asked: (peer, id) => void calls.push(`asked ${peer} ${id}`),
      durable: () => Promise.resolve(),
      linked: () => {},
      loading: () => undefined,
    };
    all.store = store;
    const reader = all.of('w\u0000read', false);
    reader.add('s\u0000k');
    reader.add('s\u0000k'); // asked again
    expect(reader.stored()).toBeUndefined();
    reader.delete('s\u0000k');
    reader.add('s\u0000j');
    expect(calls).toEqual([]);
    expect(all.list()).toEqual([]);
    // The writable session of the same id: its asks are the store's.
    const writer = all.of('w');
    writer.add('s\u0000k');
    expect(writer.stored()).toBeInstanceOf(Promise);
    expect(calls).toEqual(['changed w s\u0000k']);
    expect(all.list()).toEqual([['w', ['s\u0000k']]]);
    // The reader's ask is held apart (sec49): it counts toward no bound of the writers'.
    expect(all.size).toBe(1);
    expect(all.held).toBe(2);
  });
});
