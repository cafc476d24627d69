import { describe, expect, it } from 'vitest';
import { AckTracker } from '../../lib/acks.js';
import { encodeNews, parseNews } from '../../lib/sync/cluster-news.js';

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
