/**
 * Review last48 of rev48a's lack writes (lib/sync/lacks.ts `changed`): a write carries only the lacks changed since the
 * one before, onto what is stored. A write that failed once (a transaction refused, a commit that failed: disk full, a
 * lost IndexedDB connection) must not lose what it carried for good. Before, a failure after the edit ran dropped its
 * lacks from every later write (the next one carried only its own), and a failure before it ran left its set of changes
 * standing as "queued", so every later change joined it and no lack was written again while the replica ran: a cursor
 * then passed the keys durably with no lack stored, and the replica opened again said 'synced' while lacking them.
 * And the lacks read back at open: their peers were held as linked for good (MAX_PEERS), never dropped for a new one.
 */
import { describe, expect, it } from 'vitest';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import { Lacks, MAX_PEERS } from '../../lib/sync/lacks.js';
import { MsgType, type Left } from '../../lib/sync/messages.js';
import { until } from './support.js';

const dot = { r: 'abc', e: '', n: 2 };
const left = (k: string): Left => ({ type: MsgType.Left, space: 's', keys: [[k, [dot]]] });

/** A store whose `update` fails its first call: before running the edit (`before`), or after it (the commit failed). */
function failingOnce(before: boolean) {
  let stored: unknown;
  let calls = 0;
  const store = {
    read: async () => undefined,
    update: async (edit: (v: unknown) => unknown) => {
      if (++calls === 1 && before) throw new Error('transaction refused');
      const next = edit(stored);
      if (calls === 1) throw new Error('commit failed');
      stored = next;
    },
    get: async () => undefined,
  };
  return { store, stored: () => stored, calls: () => calls };
}

describe('lack writes after a failed one', () => {
  for (const before of [true, false]) {
    it(`a write that failed ${before ? 'before its edit ran' : 'at its commit'}: its lacks go with the next write`, async () => {
      const s = failingOnce(before);
      const reported: unknown[] = [];
      const lacks = new Lacks(() => NO_EPOCHS, () => {}, (e) => reported.push(e), s.store);
      await until(() => !lacks.any, 'read');
      lacks.told('peer', left('a'), true); // its write fails
      await until(() => reported.some((e) => e instanceof Error && /transaction refused|commit failed/.test(e.message)), 'failure reported');
      lacks.told('peer', left('b'), true);
      await lacks.close();
      expect(s.calls(), 'a second write was made').toBeGreaterThanOrEqual(2);
      const keys = (Array.isArray(s.stored()) ? (s.stored() as unknown[][]) : []).map((e) => e[2]).sort();
      expect(keys, 'both lacks stored').toEqual(['a', 'b']);
    });
  }
});

describe('lacks read back at open', () => {
  it('of MAX_PEERS peers no link runs to: a new peer told of a key is kept (the oldest read back goes), not refused', async () => {
    // A client restarted: its stored lacks name peers of earlier runs (a relay under an earlier id, a peer away), to none
    // of which a link runs. Before, those counted as linked for good: the 65th peer's LEFT was a protocol error, the link
    // closed, and every link again after it was told the same and closed the same.
    const stored: unknown = Array.from({ length: MAX_PEERS }, (_, i) => [`old${i}`, 's', 'k', [dot]]);
    const store = { read: async () => stored, update: async () => {}, get: async () => undefined };
    const lacks = new Lacks(() => NO_EPOCHS, () => {}, () => {}, store);
    await until(() => lacks.list().length === MAX_PEERS, 'read');
    expect(lacks.from(['old0']), 'a lack read back counts once a link runs to its peer').toBe(true);
    expect(() => lacks.told('relay', left('big'), true)).not.toThrow();
    expect(lacks.keys('relay', 's')).toEqual(['big']);
    expect(lacks.keys('old0', 's'), 'the first read back goes first').toEqual([]);
    expect(lacks.list()).toHaveLength(MAX_PEERS);
  });
});
