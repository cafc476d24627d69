/**
 * The relay's fan-out reads some answers once per write rather than once per link (s7r8): `liveFits` keeps its last
 * entry's answer, a session the space of the last change it was handed, the relay's socket the Buffer of the last frame.
 * Each is kept by what it depends on; these are the cases where the thing kept and the thing asked differ in one part.
 * And a frame that went asks its link's open asks (open-asks.ts) only while the replica holds any, of any peer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { FRAME_CHARS } from '../../lib/sync/conn-table.js';
import { liveFits } from '../../lib/sync/live.js';
import type { KeyState } from '../../lib/dvv.js';
import { MsgType, type Entry } from '../../lib/sync/messages.js';
import { OpenAsks } from '../../lib/sync/open-asks.js';
import { Wire } from '../../lib/sync/wire.js';
import { relayWithWriter, synced, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

describe('fan-out answers kept once a write', () => {
  it('liveFits answers for the space asked, the same entry going to a space whose name does not fit', () => {
    const entry = ['k', { vs: [{ r: 'writer-1', n: 1, t: 1, c: 0 }], cc: { 'writer-1': 1 } }] as unknown as Entry;
    const long = 'x'.repeat(FRAME_CHARS);
    const fits = (space: string) => liveFits({ space, upTo: 5, entries: [entry] });
    expect(fits('s')).toBe(true);
    expect(fits(long)).toBe(false); // the entry kept, the space not
    expect(fits('s')).toBe(true);
    expect(fits(long)).toBe(false);
    // Another entry object of the same key and state: weighed again, the same answer.
    expect(liveFits({ space: 's', upTo: 5, entries: [[entry[0], entry[1]]] })).toBe(true);
    // Not one entry, or a repair frame: never LIVE, whatever was kept.
    expect(liveFits({ space: 's', upTo: 0, entries: [entry] })).toBe(false);
    expect(liveFits({ space: 's', upTo: 5, entries: [entry, entry] })).toBe(false);
  });

  it('a session live in two spaces streams each change to its own space, writes alternating between them', async () => {
    const { mem, writer } = await relayWithWriter('a', open);
    writer.space('b');
    const clients: Replica[] = [];
    for (let i = 0; i < 4; i++) {
      const c = await openReplica({ storage: memoryStorage() });
      open.push(c);
      c.space('a');
      c.space('b');
      c.connect(mem.transport());
      clients.push(c);
    }
    await synced(writer, ...clients);
    const n = 12;
    for (let i = 0; i < n; i++) {
      // Alternating, and now and then two in one tick (one frame per space each).
      const space = i % 2 === 0 ? 'a' : 'b';
      if (i % 4 === 3) await Promise.all([writer.space('a').put(`t${i}`, { i, space: 'a' }), writer.space('b').put(`t${i}`, { i, space: 'b' })]);
      else await writer.space(space).put(`k${i}`, { i, space });
    }
    await synced(writer, ...clients);
    for (const c of clients) {
      await until(async () => (await c.space('b').get(`t${n - 1}`)) !== undefined, 'the last write');
      for (let i = 0; i < n; i++) {
        if (i % 4 === 3) {
          expect((await c.space('a').get(`t${i}`))?.value).toEqual({ i, space: 'a' });
          expect((await c.space('b').get(`t${i}`))?.value).toEqual({ i, space: 'b' });
          continue;
        }
        const space = i % 2 === 0 ? 'a' : 'b';
        const other = space === 'a' ? 'b' : 'a';
        expect((await c.space(space).get(`k${i}`))?.value).toEqual({ i, space });
        expect(await c.space(other).get(`k${i}`)).toBeUndefined();
      }
    }
  });

  it("a frame carrying a key settles its peer's open ask of it, whoever else holds asks; with none held, none is made", () => {
    const state: KeyState = { vs: [{ r: 'W', n: 7, t: 1, c: 0, v: '"x"' } as KeyState['vs'][number]], cc: { W: 7 } };
    const asks = new OpenAsks();
    asks.of('P').add('s\u0000k');
    asks.of('P').add('s\u0000other');
    asks.of('Q').add('s\u0000k');
    const link = (peer: string, all: OpenAsks) => {
      const wire = new Wire((e) => void e, () => {}, undefined, () => all, () => false);
      wire.start('relay', peer, 0);
      const frames: Uint8Array[] = [];
      wire.send({ type: MsgType.Changes, space: 's', upTo: 9, entries: [['k', state]] }, 1 << 20, (f) => frames.push(f));
      return frames;
    };
    expect(link('P', asks)).toHaveLength(1);
    expect([...asks.of('P').ids]).toEqual(['s\u0000other']); // settled: k went to P
    expect([...asks.of('Q').ids]).toEqual(['s\u0000k']); // Q's stays: nothing went to Q
    expect(asks.size).toBe(2);
    expect(link('Q', asks)).toHaveLength(1);
    expect([...asks.of('Q').ids]).toEqual([]);
    expect(asks.size).toBe(1);
    const none = new OpenAsks();
    expect(link('R', none)).toHaveLength(1);
    expect(none.size).toBe(0);
  });
});
