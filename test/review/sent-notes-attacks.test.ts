/**
 * Review of lib/sync/sent-notes.ts (a relay's links note once what they sent of keys they knew nothing of, a bit per
 * link). The peer model is a lower bound of what the peer holds: a link must never take as held what it was not sent
 * or told — not what another link of its group was sent, of another space, or a key's other state in the same fan-out —
 * and where its own map and the group's notes disagree after eviction it may know less, never more. At the session
 * level: a relay whose links speak 10, 11 and 12, some behind a narrower frame limit (keys left out, parts), a delta a
 * client cannot apply (NEED), a client reconnecting (a new session: a fresh bit), a read-only client: every write
 * reaches every client that can carry it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import type { KeyState } from '../../lib/dvv.js';
import { memoryStorage, merges, openReplica, type Replica } from '../../lib/index.js';
import type { AddWinsSet, CounterValue } from '../../lib/merges/index.js';
import type { Entry } from '../../lib/sync/messages.js';
import { MsgType } from '../../lib/sync/messages.js';
import { EVICT, MAX_KEYS, type PeerModel } from '../../lib/sync/peer-model.js';
import { memoryRelay } from '../support/tab-group.js';
import { gate } from '../sync/gate.js';
import { deltaOnLostBase } from '../sync/lost-base.js';
import { linked, one, v } from '../sync/sent-notes-links.js';
import { SLOTS } from '../../lib/sync/sent-notes.js';
import { relayWithWriter, until } from '../sync/support.js';

const names = (st: KeyState | undefined) => st && st.vs.map((x) => `${x.r}${x.n}`).sort();
/** The versions of `entry`'s state the link's model takes as held by its peer. */
const held = (m: PeerModel, space: string, entry: Entry) => [...m.forms(space, [entry], false).forms.keys()].map((x) => `${x.r}${x.n}`);

describe('sent-notes: what a link of a group knows', () => {
  it("a key's state changing between links of one fan-out: each link knows the state it was sent, the entries handed in turn", () => {
    const owner = {};
    const [a, b, c, d] = [linked(owner), linked(owner), linked(owner), linked(owner)];
    const e1: Entry = ['k', one('w', 1)];
    const e2: Entry = ['k', { vs: [v('w', 2)], cc: { w: 2 } }];
    // Each link is asked its forms, then noted as sent, as the fan-out does; the two entries alternate between links.
    for (const [m, e] of [[a, e1], [b, e2], [c, e1], [d, e2]] as const) {
      m.forms('s', [e], false);
      m.sent('s', [e], new Map());
    }
    expect(names(a.known('s', 'k'))).toEqual(['w1']);
    expect(names(b.known('s', 'k'))).toEqual(['w2']);
    expect(names(c.known('s', 'k'))).toEqual(['w1']);
    expect(names(d.known('s', 'k'))).toEqual(['w2']);
    // w2 supersedes w1: a and c were not sent it, so it goes to them whole; b and d hold it.
    expect(held(a, 's', e2)).toEqual([]);
    expect(held(c, 's', e2)).toEqual([]);
    expect(held(b, 's', e2)).toEqual(['w2']);
    expect(held(d, 's', e2)).toEqual(['w2']);
  });

  it('two spaces: a link knows what it was sent of a key in each space apart, whatever space it or its group saw first', () => {
    const owner = {};
    const a = linked(owner);
    const b = linked(owner);
    // The group's first space is 's' (a's send); b's first is 't'; a key of 's' spelled like another space's id.
    a.sent('s', [['k', one('w', 1)]], new Map());
    b.sent('t', [['k', one('x', 1)]], new Map());
    b.sent('s', [['\u0000t\u0000k', one('y', 1)]], new Map());
    expect(names(a.known('s', 'k'))).toEqual(['w1']);
    expect(a.known('t', 'k')).toBeUndefined();
    expect(a.known('s', '\u0000t\u0000k')).toBeUndefined();
    expect(b.known('s', 'k')).toBeUndefined();
    expect(names(b.known('t', 'k'))).toEqual(['x1']);
    expect(names(b.known('s', '\u0000t\u0000k'))).toEqual(['y1']);
    expect(held(b, 't', ['k', one('x', 1)])).toEqual(['x1']);
    expect(held(b, 's', ['k', one('w', 1)])).toEqual([]);
  });

  it("past MAX_KEYS, a link whose own entry went and the group's note stayed, or the other way round, knows no more than it was sent or told", () => {
    const owner = {};
    const [a, b] = [linked(owner), linked(owner)];
    const e1: Entry = ['k', one('w', 1)];
    a.sent('s', [e1], new Map());
    b.sent('s', [e1], new Map());
    // a's peer tells it holds p1 too: a's own entry, beside its bit in the note.
    a.observe('s', 'k', one('p', 1), true);
    expect(names(a.known('s', 'k'))).toEqual(['p1', 'w1']);
    // a's own map evicts k (its peer told it of MAX_KEYS other keys since): the note's w1 is what it still knows.
    for (let i = 0; i < MAX_KEYS + EVICT; i++) a.observe('s', `o${i}`, one('p', i + 2), true);
    expect(names(a.known('s', 'k'))).toEqual(['w1']);
    // The peer asks for k whole: nothing of it is known, its own entry gone, its bit cleared.
    a.needWhole('s', 'k', '');
    expect(a.known('s', 'k')).toBeUndefined();
    expect(held(a, 's', e1)).toEqual([]);
    expect(names(b.known('s', 'k'))).toEqual(['w1']);
    // The group's notes evict k (b's fan-out of MAX_KEYS fresh keys since): b forgets it; a, sent it whole again into
    // its own map meanwhile, keeps it.
    a.sent('s', [e1], new Map());
    a.observe('s', 'k', one('p', 1), true);
    for (let i = 0; i < MAX_KEYS + EVICT; i++) b.sent('s', [[`f${i}`, one('w', i + 10)]], new Map());
    expect(b.known('s', 'k')).toBeUndefined();
    expect(held(b, 's', e1)).toEqual([]);
    expect(names(a.known('s', 'k'))).toEqual(['p1', 'w1']);
    // The entry handed in turn after the eviction (the notes' last-entry cache): still nothing for b.
    b.forms('s', [e1], false);
    expect(held(b, 's', e1)).toEqual([]);
  });
});

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

const SPEAKS_10 = [5, 6, 7, 8, 9, 10];
const SPEAKS_11 = [5, 6, 7, 8, 9, 10, 11];
const text = (d: Y.Doc) => d.getText('body').toString();

async function replica(speaks?: readonly number[]): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), ...(speaks ? { speaks } : {}) });
  open.push(r);
  r.space('s');
  return r;
}

async function docText(r: Replica): Promise<string> {
  const value = (await r.space('s').get('doc'))?.value as Uint8Array | undefined;
  const d = new Y.Doc();
  if (value) Y.applyUpdate(d, value);
  return text(d);
}

describe("sent-notes: a relay's mixed fleet", () => {
  it('links at 10, 11 and 12, narrow ones, a delta a client cannot apply, a reconnect and a read-only client: every write reaches every client', async () => {
    const relay = await replica();
    const wide = memoryRelay(relay, undefined, (token) => ({ rights: () => (token === 'reader' ? 'read' : 'write') }));
    // The same relay (one hub, one group of links) behind a narrower frame limit: once the doc outgrows it, it is left out
    // there (its context alone goes, a state of its own on those links; a version over the limit goes in no parts).
    const narrow = memoryRelay(relay, 3000);
    // The writers speak 10: their writes name no epoch, so every link carries them (a tagged state is left out below 11).
    const writer = await replica(SPEAKS_10);
    writer.connect(wide.transport());
    const gated = await replica(SPEAKS_10);
    const g = gate(wide.transport());
    gated.connect(g.transport);
    const clients: Replica[] = [];
    for (const speaks of [undefined, SPEAKS_11, SPEAKS_10, undefined, SPEAKS_11, SPEAKS_10]) clients.push(await replica(speaks));
    const links = clients.map((c, i) => c.connect(i < 3 ? wide.transport() : narrow.transport()));
    const reader = await replica();
    reader.connect(wide.transport('reader'));
    const narrowed = clients.slice(3);
    const mover = clients[1]!;

    const dw = await openDoc(writer.space('s'), 'doc', { writeDelay: 0 });
    const dg = await openDoc(gated.space('s'), 'doc', { writeDelay: 0 });
    const t = dw.getText('body');
    const line = (i: number) => `line ${i}: the quick brown fox jumps over the lazy dog\n`;
    const all = [gated, ...clients, reader];
    const reached = (what: string, check: (r: Replica) => Promise<boolean>, rs = all) =>
      until(async () => (await Promise.all(rs.map(check))).every(Boolean), what, 20_000);
    const settled = (rs = all) => reached('every write', async (r) => (await docText(r)) === text(dw), rs);
    const wideOnes = all.filter((r) => !narrowed.includes(r));

    for (let i = 0; i < 20; i++) {
      t.insert(t.length, line(i));
      await flushDoc(dw);
      await writer.space('s').put(`fresh${i}`, i);
    }
    await settled();
    // Past the narrow limit: from here the doc is left out on the narrow links.
    for (let i = 20; i < 80; i++) t.insert(t.length, line(i));
    await flushDoc(dw);
    await settled(wideOnes);

    // The gated client writes over the doc while its frames are held: the relay's link to it still takes the old
    // version as held there, and the writer's next edit goes to it as a delta on a base it no longer holds (NEED).
    await deltaOnLostBase(dw, dg, g);
    await until(() => g.sent.some((f) => f[0] === MsgType.Need), 'the gated client asking for the doc whole');
    g.release();
    await until(() => text(dw).includes('B'), "the gated client's edit at the writer");

    // A client reconnects: its new session starts with a bit of its own, knowing nothing; meanwhile more writes.
    links[1]!.close();
    mover.connect(wide.transport());
    for (let i = 0; i < 20; i++) {
      t.insert(0, `${i}`);
      await flushDoc(dw);
      await writer.space('s').update<CounterValue>('count', (c) => merges.counter.increment(c, writer.replicaId, 1));
      await writer.space('s').update<AddWinsSet<number>>('set', (s) => merges.addWins.add(s, writer.replicaId, i));
    }
    await settled(wideOnes);
    expect(text(dg)).toBe(text(dw));
    await reached('the counter and the set', async (r) => {
      const count = merges.counter.value((await r.space('s').get<CounterValue>('count'))?.value);
      const set = merges.addWins.values((await r.space('s').get<AddWinsSet<number>>('set'))?.value);
      return count === 20 && set.length === 20;
    });
    await reached('the fresh keys', async (r) => (await r.space('s').get('fresh19'))?.value === 19);
    // The narrow links never carried the doc past their limit: its context alone dropped the version they held.
    for (const c of narrowed) expect(await docText(c)).toBe('');
  }, 60_000);

  it('a client connecting after the fan-out, on a relay whose other links were sent every write: its link knows nothing, so every state goes to it whole and it asks for none (NEED)', async () => {
    const { mem, writer } = await relayWithWriter('s', open);
    const early: Replica[] = [];
    for (let i = 0; i < 3; i++) (early.push(await replica()), early.at(-1)!.connect(mem.transport()));
    const dw = await openDoc(writer.space('s'), 'doc', { writeDelay: 0 });
    for (let i = 0; i < 10; i++) {
      dw.getText('body').insert(0, `${i} `);
      await flushDoc(dw);
      await writer.space('s').put(`k${i}`, i);
    }
    const every = (rs: Replica[]) =>
      until(async () => (await Promise.all(rs.map(async (r) => (await docText(r)) === text(dw) && (await r.space('s').get('k9'))?.value === 9))).every(Boolean), 'every write', 20_000);
    await every(early);
    // Two late clients, each a new session of the relay's (a new bit), connecting at once.
    const late = await replica();
    const g = gate(mem.transport());
    late.connect(g.transport);
    const again = await replica();
    const ga = gate(mem.transport());
    again.connect(ga.transport);
    await every([late, again]);
    expect(g.sent.some((f) => f[0] === MsgType.Need)).toBe(false);
    expect(ga.sent.some((f) => f[0] === MsgType.Need)).toBe(false);
  }, 30_000);

  it('more links over a relay\'s life than a group takes (SLOTS): a client connecting after them asks for nothing (NEED)', async () => {
    const { mem, writer } = await relayWithWriter('s', open);
    for (let i = 0; i < 10; i++) await writer.space('s').put(`k${i}`, i);
    const has = (r: Replica) => until(async () => (await r.space('s').get('k9'))?.value === 9, 'k9', 20_000);
    // One replica connecting again and again: each link a new session of the relay's, sent a fresh write while open.
    const churn = await replica();
    for (let i = 0; i < SLOTS + 5; i++) {
      const link = churn.connect(mem.transport());
      await until(() => churn.status === 'synced', 'synced');
      await writer.space('s').put(`c${i}`, i);
      await until(async () => (await churn.space('s').get(`c${i}`))?.value === i, `c${i}`);
      link.close();
      await until(() => mem.open === 1, 'closed');
    }
    const late = await replica();
    const g = gate(mem.transport());
    late.connect(g.transport);
    await has(late);
    await until(async () => (await late.space('s').get(`c${SLOTS + 4}`)) !== undefined, 'the last fresh write');
    expect(g.sent.some((f) => f[0] === MsgType.Need)).toBe(false);
  }, 120_000);
});
