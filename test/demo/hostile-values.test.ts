// What the demo does with values a peer wrote that are not what it writes: `shown` turns anything into text without
// throwing, `readList` keeps the sets of the list key apart from what is not one (a hostile sibling beside them), and
// `relayUrl` takes no relay of another host from a link.
import { describe, expect, it } from 'vitest';
import { shown } from '../../demo/src/dom.js';
import { readList } from '../../demo/src/list.js';
import { relayUrl } from '../../demo/src/relay-url.js';
import { memoryStorage, merges, openReplica, pairTransports, type GetResult } from '../../lib/index.js';

const { addWins } = merges;

describe('shown', () => {
  it('gives text for values String() throws on, and leaves strings alone', () => {
    const hostile = JSON.parse('{"toString":1,"valueOf":1}') as unknown;
    expect(() => String(hostile)).toThrow(TypeError);
    expect(shown(hostile)).toBe('{"toString":1,"valueOf":1}');
    expect(shown('<b>x</b>')).toBe('<b>x</b>');
    expect(shown(0)).toBe('0');
    expect(shown(null)).toBe('null');
    expect(shown(10n)).toBe('10');
    expect(shown({ n: 10n })).toBe('[object Object]'); // JSON refuses a BigInt: the type tag
    expect(shown(new Uint8Array([1, 2]))).toBe('{"0":1,"1":2}');
  });
});

describe('readList', () => {
  it('joins the sets beside a sibling that is not one (the library leaves that one out of get and reports it)', async () => {
    // Three replicas write the list concurrently: two add-wins sets and a plain { e, cc } whose entry is not one. The
    // registered merge took it into its join, which no replica's decoder accepts (main's demo then threw on the list);
    // the library now leaves it out of the read (reported on the error event) and merges the sets.
    const replicas = await Promise.all([0, 1, 2].map(() => openReplica({ storage: memoryStorage(), merge: { list: merges.addWins } })));
    const errors: unknown[] = [];
    const [a, b, c] = replicas.map((r) => (r.on('error', (e) => errors.push(e)), r.space('demo')));
    await a!.put('list', addWins.add(undefined, replicas[0]!.replicaId, 'milk'));
    await b!.put('list', addWins.add(undefined, replicas[1]!.replicaId, 'bread'));
    await c!.put('list', { e: [5], cc: {} });
    for (const r of replicas.slice(1)) {
      const [ta, tb] = pairTransports();
      replicas[0]!.connect(ta);
      r.connect(tb);
    }
    const items = (read: GetResult | undefined) => (addWins.refuses(read?.value) === undefined ? addWins.values(read?.value as never) : []);
    let read = await a!.get('list');
    for (let i = 0; i < 400 && (items(read).length !== 2 || errors.length === 0); i++) {
      await new Promise((r) => setTimeout(r, 10));
      read = await a!.get('list');
    }
    expect(items(read)).toEqual(['bread', 'milk']);
    expect(errors.length).toBeGreaterThan(0);
    const list = readList(read);
    expect(list.unreadable).toBe(false);
    expect(addWins.values(list.set)).toEqual(['bread', 'milk']);
    expect(readList(undefined)).toEqual({ set: undefined, unreadable: false });
    const alone = await openReplica({ storage: memoryStorage() });
    await alone.space('demo').put('list', addWins.add(undefined, alone.replicaId, 'tea'));
    expect(readList(await alone.space('demo').get('list'))).toMatchObject({ unreadable: false });
    expect(addWins.values(readList(await alone.space('demo').get('list')).set)).toEqual(['tea']);
    await alone.close();
    for (const r of replicas) await r.close();
  });
});

describe('relayUrl', () => {
  const page = (href: string) => {
    const u = new URL(href);
    return { protocol: u.protocol, host: u.host, hostname: u.hostname, search: u.search };
  };

  it('is the relay serving the page, unless ?relay= names one on the page’s own host', () => {
    expect(relayUrl(page('https://demo.example/?device=bob'))).toEqual({ url: 'wss://demo.example' });
    expect(relayUrl(page('http://127.0.0.1:8787/'))).toEqual({ url: 'ws://127.0.0.1:8787' });
    expect(relayUrl(page('http://127.0.0.1:5173/?relay=ws://127.0.0.1:8787'))).toEqual({ url: 'ws://127.0.0.1:8787/' });
    // Another host, another scheme, or no URL at all: refused, the page's own relay instead.
    for (const given of ['wss://attacker.example', 'ws://demo.example.attacker.example', 'http://demo.example', 'not a url', 'ws://user@attacker.example']) {
      expect(relayUrl(page(`https://demo.example/?relay=${encodeURIComponent(given)}`))).toEqual({ url: 'wss://demo.example', refused: given });
    }
  });
});
