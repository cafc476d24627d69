/**
 * IndexedDB's "opened elsewhere" (adapters/indexeddb/tabs.ts OpenInstances), which decides whether an open
 * starts a new log epoch: two tabs opening at the same moment must each see the other. Had either started an
 * epoch while the other kept writing under its own, peers would take those writes for ones a restore lost
 * (epochs.ts lostWrites) and make the replica re-identify. Driven with an in-memory Web Locks manager whose
 * calls interleave the way two tabs' do (every call yields to the event loop first).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OpenInstances } from '../../adapters/indexeddb/tabs.js';

interface Held {
  name: string;
  mode: 'shared' | 'exclusive';
}

/** Shared locks only (all OpenInstances asks for): granted at once, held until the callback's promise settles. */
class FakeLocks {
  readonly held: Held[] = [];
  async request(name: string, options: { mode: 'shared' | 'exclusive' }, fn: () => Promise<void>): Promise<void> {
    await new Promise((r) => setTimeout(r, 0));
    const entry = { name, mode: options.mode };
    this.held.push(entry);
    try {
      await fn();
    } finally {
      this.held.splice(this.held.indexOf(entry), 1);
    }
  }
  async query(): Promise<{ held: Held[] }> {
    await new Promise((r) => setTimeout(r, 0));
    return { held: [...this.held] };
  }
}

describe('IndexedDB open lock: which open is the first', () => {
  let saved: PropertyDescriptor | undefined;
  let locks: FakeLocks;
  beforeEach(() => {
    saved = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    locks = new FakeLocks();
    Object.defineProperty(globalThis, 'navigator', { value: { locks }, configurable: true });
  });
  afterEach(() => {
    if (saved) Object.defineProperty(globalThis, 'navigator', saved);
    else delete (globalThis as { navigator?: unknown }).navigator;
  });

  it('a lone open is not shared; a later one is', async () => {
    const a = new OpenInstances('db');
    await a.start();
    expect(a.elsewhere).toBe(false);
    const b = new OpenInstances('db');
    await b.start();
    expect(b.elsewhere).toBe(true);
    a.stop();
    b.stop();
    await new Promise((r) => setTimeout(r, 5));
    expect(locks.held).toHaveLength(0);
  });

  it('two tabs opening at the same moment each see the other', async () => {
    const a = new OpenInstances('db');
    const b = new OpenInstances('db');
    await Promise.all([a.start(), b.start()]);
    expect([a.elsewhere, b.elsewhere]).toEqual([true, true]);
    a.stop();
    b.stop();
  });

  it('another database does not count', async () => {
    const other = new OpenInstances('other');
    await other.start();
    const a = new OpenInstances('db');
    await a.start();
    expect(a.elsewhere).toBe(false);
    other.stop();
    a.stop();
  });
});
