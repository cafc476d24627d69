import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../lib/acks.js';
import { encodeNews, parseNews } from '../../lib/sync/cluster-news.js';

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !done(); i++) await new Promise((r) => setTimeout(r, 1));
  expect(done()).toBe(true);
}

describe('cluster news', () => {
  it('round-trips and refuses what it does not know', () => {
    expect(parseNews(encodeNews({ kind: 'relays', relays: ['ws://a:1', 'wss://b'] }))).toEqual({ kind: 'relays', relays: ['ws://a:1', 'wss://b'] });
    expect(parseNews(encodeNews({ kind: 'replicated', space: 's', upTo: 7, count: 3 }))).toEqual({ kind: 'replicated', space: 's', upTo: 7, count: 3 });
    expect(parseNews('{"relays":["http://x","ws://ok",3]}')).toEqual({ kind: 'relays', relays: ['ws://ok'] });
    for (const bad of ['', 'null', '[]', '{"rep":{"s":"s","u":-1,"n":2}}', '{"rep":{"s":"","u":1,"n":2}}', '{"other":1}']) expect(parseNews(bad)).toBeUndefined();
  });
});

describe('replication counts', () => {
  it('a count for a log position covers every earlier write; waiters resolve when reached', async () => {
    const acks = new AckTracker();
    const order: string[] = [];
    const w5 = acks.waitReplicated('s', 5, 2).then(() => order.push('5/2'));
    const w9 = acks.waitReplicated('s', 9, 3).then(() => order.push('9/3'));
    acks.replicated('s', 4, 3);
    await Promise.resolve();
    expect(order).toEqual([]);
    acks.replicated('s', 6, 2);
    await w5;
    expect(acks.replicatedCount('s', 3)).toBe(3);
    expect(acks.replicatedCount('s', 6)).toBe(2);
    expect(acks.replicatedCount('s', 7)).toBe(0);
    acks.replicated('s', 10, 3);
    await w9;
    expect(order).toEqual(['5/2', '9/3']);
    expect(acks.replicatedCount('t', 1)).toBe(0);
  });

  it('a write whose key moved up the log waits for the report that covers where it is now', async () => {
    // The log holds a key once, at its newest record: a count up to the write's own seq says nothing of a key written
    // again (or joined) since, whose record now sits past it (as for w.synced: test/sync/synced-after-repair.test.ts).
    const acks = new AckTracker();
    const at = new Map([['k', 9]]); // k was written at 5, and again at 9 before any relay held 5
    acks.where = async (_space, key) => at.get(key);
    let replicated = false;
    let synced = false;
    void acks.waitReplicated('s', 5, 2, 'k').then(() => (replicated = true));
    void acks.wait('s', 5, 'k').then(() => (synced = true));
    acks.replicated('s', 6, 2);
    acks.ack('s', 6, 'relay');
    for (let i = 0; i < 5; i++) await Promise.resolve();
    expect([replicated, synced], 'counted held up to 6 while k sits at 9').toEqual([false, false]);
    acks.replicated('s', 9, 2);
    acks.ack('s', 9, 'relay');
    await until(() => replicated && synced);
    // A key whose record did not move past the report resolves at once.
    at.set('j', 3);
    await acks.waitReplicated('s', 3, 2, 'j');
    await acks.wait('s', 3, 'j');
  });

  it('keeps acknowledgements per peer', () => {
    const acks = new AckTracker();
    const seen: Array<[string, string, number]> = [];
    const off = acks.onPeerAck((p, s, u) => seen.push([p, s, u]));
    acks.ack('s', 4, 'b');
    acks.ack('s', 2, 'c');
    acks.ack('s', 3, 'b');
    off();
    acks.ack('s', 9, 'c');
    expect(acks.ackedBy('b', 's')).toBe(4);
    expect(acks.ackedBy('c', 's')).toBe(9);
    expect(acks.isAcked('s', 9)).toBe(true);
    expect(seen).toEqual([['b', 's', 4], ['c', 's', 2]]);
  });
});
