/**
 * A session's inbound turn-taking (lib/sync/inbox.ts): a task that ends at once runs in the call, and order holds
 * however tasks end — a task arriving while one runs (re-entrant, or behind one that waits) starts only once every
 * task before it ended; failures go to `fail` and the tasks behind still run.
 */
import { describe, expect, it } from 'vitest';
import { Inbox } from '../../lib/sync/inbox.js';

function deferred() {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

const turns = async (n = 5) => {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
};

describe('Inbox', () => {
  it('a task that ends at once runs within the call, and the next one too', () => {
    const failed: unknown[] = [];
    const inbox = new Inbox((e) => failed.push(e));
    const log: string[] = [];
    inbox.run(() => void log.push('a'));
    expect(log).toEqual(['a']);
    inbox.run(() => void log.push('b'));
    expect(log).toEqual(['a', 'b']);
    expect(failed).toEqual([]);
  });

  it('a task arriving while one runs at once (re-entrant) starts after it ended', async () => {
    const inbox = new Inbox(() => {});
    const log: string[] = [];
    inbox.run(() => {
      log.push('a starts');
      void inbox.run(() => void log.push('b'));
      log.push('a ends');
    });
    expect(log).toEqual(['a starts', 'a ends']);
    await turns();
    expect(log).toEqual(['a starts', 'a ends', 'b']);
    // Drained: at once again.
    inbox.run(() => void log.push('c'));
    expect(log.at(-1)).toBe('c');
  });

  it('a re-entrant task waits for the promise of the task it met, when that one must wait; later tasks wait behind both', async () => {
    const inbox = new Inbox(() => {});
    const log: string[] = [];
    const late = deferred();
    const first = inbox.run(() => {
      log.push('a starts');
      void inbox.run(() => void log.push('b'));
      return late.promise.then(() => void log.push('a ends'));
    });
    const third = inbox.run(() => void log.push('c'));
    await turns();
    expect(log).toEqual(['a starts']);
    late.resolve();
    await Promise.all([first, third]);
    expect(log).toEqual(['a starts', 'a ends', 'b', 'c']);
    await turns();
    inbox.run(() => void log.push('d'));
    expect(log.at(-1)).toBe('d');
  });

  it('tasks behind one that waits run in order, each once it ended; the promise of each settles once it ran', async () => {
    const inbox = new Inbox(() => {});
    const log: string[] = [];
    const gates = [deferred(), deferred()];
    const a = inbox.run(() => gates[0]!.promise.then(() => void log.push('a')));
    const b = inbox.run(() => gates[1]!.promise.then(() => void log.push('b')));
    let cDone = false;
    const c = inbox.run(() => void log.push('c')).then(() => (cDone = true));
    gates[1]!.resolve(); // b's storage answers first: b still waits for a
    await turns();
    expect(log).toEqual([]);
    expect(cDone).toBe(false);
    gates[0]!.resolve();
    await Promise.all([a, b, c]);
    expect(log).toEqual(['a', 'b', 'c']);
  });

  it('a task that throws, or whose promise rejects, goes to fail; the tasks behind it still run, in order', async () => {
    const failed: unknown[] = [];
    const inbox = new Inbox((e) => failed.push(e));
    const log: string[] = [];
    inbox.run(() => {
      void inbox.run(() => void log.push('behind a throw'));
      throw new Error('at once');
    });
    expect(failed.map((e) => (e as Error).message)).toEqual(['at once']);
    const late = deferred();
    void inbox.run(() => late.promise);
    const last = inbox.run(() => void log.push('behind a rejection'));
    late.reject(new Error('later'));
    await last;
    expect(failed.map((e) => (e as Error).message)).toEqual(['at once', 'later']);
    expect(log).toEqual(['behind a throw', 'behind a rejection']);
  });
});
