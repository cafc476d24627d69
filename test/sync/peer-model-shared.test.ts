/**
 * lib/sync/sent-notes.ts: the links of one replica note once what they sent of keys they knew nothing of (a relay's
 * fan-out), each by a bit of its own. What each link knows must be what it knew with a map of its own: never what
 * another link of the group was sent, nothing it was sent lost when a note gives way to another state's, nothing kept
 * of a key its peer asked for whole, and what it learns of its own peer its own.
 */
import { describe, expect, it } from 'vitest';
import type { KeyState } from '../../lib/dvv.js';
import type { PeerModel } from '../../lib/sync/peer-model.js';
import { CHAIN, SLOTS } from '../../lib/sync/sent-notes.js';
import type { Entry } from '../../lib/sync/messages.js';
import { linked, one, v } from './sent-notes-links.js';

const send = (m: PeerModel, entry: Entry) => m.sent('s', [entry], new Map());
/** The versions of `st` the link's model takes as held by its peer. */
const held = (m: PeerModel, st: KeyState) => [...m.forms('s', [['k', st]], false).forms.keys()].map((x) => `${x.r}${x.n}`);
const dots = (st: KeyState | undefined) => st && { vs: st.vs.map((x) => `${x.r}${x.n}`).sort(), cc: { ...st.cc } };

describe("a replica's links noting what they sent once (sent-notes.ts)", () => {
  it('a link knows what it was sent, never what another link of its group was', () => {
    const owner = {};
    const [a, b] = [linked(owner), linked(owner)];
    const s1 = one('w', 1);
    send(a, ['k', s1]);
    expect(dots(a.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    expect(b.known('s', 'k')).toBeUndefined();
    expect(held(a, s1)).toEqual(['w1']);
    expect(held(b, s1)).toEqual([]);
    send(b, ['k', s1]);
    expect(held(b, s1)).toEqual(['w1']);
  });

  it('a key noted for other states too (a fan-out of contexts alone, of later writes) leaves each link what it was sent', () => {
    const owner = {};
    const [a, b, c] = [linked(owner), linked(owner), linked(owner)];
    const s1 = one('w', 1);
    const s2 = one('x', 1); // not above s1: another writer's, which c alone was sent
    send(a, ['k', s1]);
    send(b, ['k', s1]);
    send(c, ['k', s2]);
    expect(dots(a.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    expect(dots(b.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    expect(dots(c.known('s', 'k'))).toEqual({ vs: ['x1'], cc: { x: 1 } });
    // More states of k than a key takes notes of, each to a link of its own (contexts alone, one a link): each link knows
    // what it was sent, those past the key's notes by an entry of their own.
    const more = Array.from({ length: 2 * CHAIN }, () => linked(owner));
    more.forEach((m, i) => send(m, ['k', one(`y${i}`, 1)]));
    more.forEach((m, i) => expect(dots(m.known('s', 'k'))).toEqual({ vs: [`y${i}1`], cc: { [`y${i}`]: 1 } }));
    expect(dots(a.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    expect(dots(b.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    expect(dots(c.known('s', 'k'))).toEqual({ vs: ['x1'], cc: { x: 1 } });
    // A link that knew the key joins what it sends into its own entry.
    send(a, ['k', s2]);
    expect(dots(a.known('s', 'k'))).toEqual({ vs: ['w1', 'x1'], cc: { w: 1, x: 1 } });
    expect(dots(b.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
  });

  it("a link whose peer asked for the key whole knows nothing of it, the others what they were sent", () => {
    const owner = {};
    const [a, b] = [linked(owner), linked(owner)];
    const s1 = one('w', 1);
    send(a, ['k', s1]);
    send(b, ['k', s1]);
    a.needWhole('s', 'k', '');
    expect(a.known('s', 'k')).toBeUndefined();
    expect(held(a, s1)).toEqual([]);
    expect(dots(b.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    // Sent whole again, it knows it again; its bit in a note older than the key's newest is forgotten as well.
    send(a, ['k', s1]);
    expect(dots(a.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    send(linked(owner), ['k', one('x', 1)]);
    a.needWhole('s', 'k', '');
    expect(a.known('s', 'k')).toBeUndefined();
    expect(dots(b.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
  });

  it("what a link learns of its own peer is its own", () => {
    const owner = {};
    const [a, b] = [linked(owner), linked(owner)];
    const s1 = one('w', 1);
    send(a, ['k', s1]);
    send(b, ['k', s1]);
    a.observe('s', 'k', one('p', 1), true);
    expect(dots(a.known('s', 'k'))).toEqual({ vs: ['p1', 'w1'], cc: { w: 1, p: 1 } });
    expect(dots(b.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
    expect(held(b, { vs: [v('p', 1)], cc: { p: 1 } })).toEqual([]);
  });

  it('a link past SLOTS of one replica starts a group of its own: no bit of an earlier link speaks for it', () => {
    const owner = {};
    const links = Array.from({ length: SLOTS + 1 }, () => linked(owner));
    const s1 = one('w', 1);
    for (const m of links.slice(0, SLOTS)) send(m, ['k', s1]);
    expect(links.slice(0, SLOTS).every((m) => m.known('s', 'k') !== undefined)).toBe(true);
    expect(links[SLOTS]!.known('s', 'k')).toBeUndefined();
    send(links[SLOTS]!, ['k', one('x', 1)]);
    expect(dots(links[0]!.known('s', 'k'))).toEqual({ vs: ['w1'], cc: { w: 1 } });
  });
});
