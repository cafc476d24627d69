/**
 * Attacks on LEFT (lib/sync/lacks.ts): a version at the frame limit, within a byte either way (never 'synced' without
 * it); a repair run's left-out key (anti-entropy first); a peer of protocol 11 (told nothing, as before: no error);
 * forged and malformed LEFT frames (before the hello, no dots, a counter out of range, more keys than a replica keeps),
 * and a server, which keeps none.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { NO_EPOCHS } from '../../lib/epoch-points.js';
import { ProtocolError } from '../../lib/sync/codec.js';
import { Lacks, MAX_LACKS, MAX_PEERS } from '../../lib/sync/lacks.js';
import { decodeMessage, encodeMessage, MsgType, type Left } from '../../lib/sync/messages.js';
import { until } from './support.js';

const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

async function replica(speaks?: number[]): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024, ...(speaks ? { speaks } : {}) });
  r.space('s');
  open.push(r);
  return r;
}

function link(a: Replica, b: Replica, frame: number): void {
  const [ta, tb] = pairTransports({ maxFrameBytes: frame });
  links.push(a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 }));
}

const tooLarge = (errors: unknown[]) => errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE');
const wait = (ms: number) => new Promise<'late'>((r) => setTimeout(() => r('late'), ms));

/**
 * A holder of "big" (`size` characters) linked to a fresh reader over frames of `frame` bytes: whether the reader got
 * it; if not, it must have been told and not be synced (whenSynced not resolved).
 */
async function crossing(size: number, frame: number, readerFirst = false): Promise<boolean> {
  const holder = await replica();
  const reader = await replica();
  const errors: unknown[] = [];
  reader.on('error', (e) => errors.push(e));
  if (readerFirst) await reader.space('s').put('mine', 1); // both hold keys, no cursor: anti-entropy first
  await holder.space('s').put('big', 'x'.repeat(size));
  const runs: unknown[] = [];
  reader.on('antiEntropy', (r) => runs.push(r));
  link(holder, reader, frame);
  await until(async () => (await reader.space('s').get('big')) !== undefined || tooLarge(errors).length > 0, `big or its LEFT at ${size}`);
  const got = (await reader.space('s').get('big')) !== undefined;
  if (readerFirst) expect(runs.length, 'an anti-entropy run').toBeGreaterThan(0);
  if (got) {
    expect(await Promise.race([reader.whenSynced(), wait(3000)]), `synced with big of ${size}`).toBeUndefined();
  } else {
    expect(await Promise.race([reader.whenSynced(), wait(200)]), `whenSynced without big of ${size}`).toBe('late');
    expect(reader.status).not.toBe('synced');
  }
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
  return got;
}

describe('LEFT under attack', () => {
  it('a version within a byte of the frame limit either arrives or is lacked, never synced without it', async () => {
    const FRAME = 2048;
    // Coarse, then every byte around where the value stops fitting.
    let last = 0;
    for (let size = FRAME - 256; size <= FRAME; size += 32) if (await crossing(size, FRAME)) last = size;
    expect(last, 'some value fits').toBeGreaterThan(0);
    let fits = 0;
    for (let size = last; size <= last + 33; size++) if (await crossing(size, FRAME)) fits = size;
    expect(fits, 'the crossing lies in the window').toBeLessThan(last + 33);
  }, 120_000);

  it('a repair run that leaves the key out tells it too', async () => {
    expect(await crossing(30_000, 16 * 1024, true)).toBe(false);
  });

  it('a peer of protocol 11 is told nothing and fails on nothing (it reports synced as before 12)', async () => {
    const holder = await replica();
    const old = await replica([5, 6, 7, 8, 9, 10, 11]);
    const errors: unknown[] = [];
    old.on('error', (e) => errors.push(e));
    await holder.space('s').put('big', 'x'.repeat(30_000));
    await holder.space('s').put('small', 1);
    link(holder, old, 16 * 1024);
    await until(() => old.status === 'synced', 'the old peer synced');
    expect(errors).toEqual([]);
    expect(await old.space('s').get('small')).toBeDefined();
  });

  it('refuses a LEFT that is malformed, before the hello, or past what it keeps; a server keeps none', () => {
    const left = (keys: Left['keys']): Left => ({ type: MsgType.Left, space: 's', keys });
    const roundTrip = (m: Left) => decodeMessage(encodeMessage(m), { maxValueBytes: 1024 });
    expect(roundTrip(left([['k', [{ r: 'abc', e: '', n: 3 }]]]))).toEqual(left([['k', [{ r: 'abc', e: '', n: 3 }]]]));
    expect(() => roundTrip(left([['k', []]]))).toThrow(ProtocolError);
    expect(() => roundTrip(left([['k', [{ r: 'abc', e: '', n: 0 }]]]))).toThrow(ProtocolError);
    expect(() => roundTrip(left([['k', [{ r: 'abc', e: '', n: 2 ** 49 }]]]))).toThrow(ProtocolError);
    expect(() => roundTrip(left([['k', [{ r: 'a b', e: '', n: 1 }]]]))).toThrow(ProtocolError);

    let moved = 0;
    const reported: unknown[] = [];
    const lacks = new Lacks(() => NO_EPOCHS, () => moved++, (e) => reported.push(e));
    expect(() => lacks.told(undefined, left([['k', [{ r: 'abc', e: '', n: 1 }]]]), true)).toThrow(ProtocolError);
    lacks.told('peer', left([['k', [{ r: 'abc', e: '', n: 1 }]]]), false);
    expect(lacks.any, 'a server keeps none').toBe(false);
    for (let i = 0; i < MAX_LACKS; i += 512) lacks.told('peer', left(Array.from({ length: 512 }, (_, j) => [`k${i + j}`, [{ r: 'abc', e: '', n: 1 }]] as const)), true);
    expect(lacks.list()).toHaveLength(MAX_LACKS);
    expect(reported).toHaveLength(MAX_LACKS);
    // Told again of a key it keeps: no more held; a new key past the bound: refused.
    lacks.told('peer', left([['k0', [{ r: 'abc', e: '', n: 2 }]]]), true);
    expect(() => lacks.told('peer', left([['more', [{ r: 'abc', e: '', n: 1 }]]]), true)).toThrow(ProtocolError);
    expect(lacks.list()).toHaveLength(MAX_LACKS);
    // Another peer has a bound of its own. A peer whose link the app closed keeps its lacks (a later link to it resumes
    // past those keys, and asks for them: lacks-relinked.test.ts) until more peers than MAX_PEERS were told: it goes first.
    lacks.told('other', left([['more', [{ r: 'abc', e: '', n: 1 }]]]), true);
    lacks.forget('peer');
    expect(lacks.list()).toHaveLength(MAX_LACKS + 1);
    expect(lacks.from(['other']), 'counted for a peer linked').toBe(true);
    expect(lacks.from(['third']), 'not for a peer not linked').toBe(false);
    for (let i = 2; i < MAX_PEERS; i++) lacks.told(`p${i}`, left([['k', [{ r: 'abc', e: '', n: 1 }]]]), true);
    expect(lacks.keys('peer', 's'), 'kept at MAX_PEERS').toHaveLength(MAX_LACKS);
    lacks.told('last', left([['k', [{ r: 'abc', e: '', n: 1 }]]]), true);
    expect(lacks.keys('peer', 's'), 'the peer unlinked goes first').toEqual([]);
    expect(() => lacks.told('one more', left([['k', [{ r: 'abc', e: '', n: 1 }]]]), true), 'no peer unlinked to drop').toThrow(ProtocolError);
    expect(moved).toBeGreaterThan(0);
  });

  it('keeps its lacks in storage: read back at open (malformed entries and lacks the stored state covers dropped), lacking while read', async () => {
    const dot = { r: 'abc', e: '', n: 2 };
    let stored: unknown = [['peer', 's', 'k', [dot]], ['peer', 's', 'held', [dot]], ['peer', 's', 'bad', 'x'], 'junk', ['peer', 's', 'k2', [{ r: 'abc', e: '', n: 'two' }]]];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const store = {
      read: async () => (await gate, stored),
      update: async (edit: (v: unknown) => unknown) => void (stored = edit(stored)),
      get: async (_s: string, key: string) => (key === 'held' ? { cc: { abc: 2 } } : undefined),
    };
    const lacks = new Lacks(() => NO_EPOCHS, () => {}, () => {}, store);
    expect(lacks.any, 'lacking while the stored lacks are read').toBe(true);
    release();
    await until(() => lacks.list().length > 0, 'read');
    expect(lacks.list()).toEqual([['peer', 's', 'k', [dot]]]);
    // Another instance stores a lack meanwhile: a write of this one's changes keeps it.
    (stored as unknown[]).push(['peer2', 's', 'theirs', [dot]]);
    lacks.asked('peer', 's', ['k']);
    lacks.answered('peer', 's', ['k']);
    await until(() => (stored as unknown[]).length === 1, 'written');
    expect(stored).toEqual([['peer2', 's', 'theirs', [dot]]]);
    expect(lacks.any).toBe(false);
  });

  it("ends a lack with the asked peer's whole answer, not with a state after which it was told again; moves it to the peer's new id", () => {
    const dot = { r: 'abc', e: '', n: 2 };
    const left = (k: string): Left => ({ type: MsgType.Left, space: 's', keys: [[k, [dot]]] });
    const lacks = new Lacks(() => NO_EPOCHS, () => {}, () => {});
    lacks.told('relay1', left('a'), true);
    lacks.told('relay1', left('b'), true);
    // The relay restarted under a new id: the link to it moves its lacks there and asks for them.
    lacks.renamed('relay1', 'relay2');
    expect(lacks.list().map(([p, , k]) => `${p} ${k}`)).toEqual(['relay2 a', 'relay2 b']);
    lacks.asked('relay2', 's', ['a', 'b']);
    // "b" is still too large: told again, then its context alone comes — which does not end it.
    lacks.told('relay2', left('b'), true);
    lacks.answered('relay2', 's', ['a', 'b']);
    expect(lacks.list().map(([p, , k]) => `${p} ${k}`)).toEqual(['relay2 b']);
    // A repair state of a key not asked for ends nothing.
    lacks.answered('relay2', 's', ['b']);
    expect(lacks.any).toBe(true);
  });

  it('a frame limit smaller than any frame (a hello does not fit): never synced, and said once', async () => {
    const a = await replica();
    const b = await replica();
    const errors: unknown[] = [];
    b.on('error', (e) => errors.push(e));
    const [ta, tb] = pairTransports({ maxFrameBytes: 48 });
    links.push(a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 }));
    await until(() => tooLarge(errors).length > 0, 'said');
    await wait(300);
    expect(b.status).not.toBe('synced');
    expect(tooLarge(errors)).toHaveLength(1);
  });
});
