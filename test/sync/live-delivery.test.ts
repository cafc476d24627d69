/**
 * What a LIVE frame costs the client that receives it (issue 14, S7: a relay's 100 clients each handle every write, so
 * their per-delivery path sets the write-to-all-delivered latency). Counted, never timed: the promises made from the
 * frame's arrival until nothing of its handling is left to run (async_hooks; each is an allocation and a turn of the
 * microtask queue), and what the client must still do for it — store it with its cursor, tell its subscribers, answer.
 */
import { AsyncResource, createHook, executionAsyncId } from 'node:async_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { openReplica, memoryStorage, type Replica } from '../../lib/index.js';
import { record } from '../../lib/record.js';
import { MsgType } from '../../lib/sync/messages.js';
import { WITH_11 } from '../support/epoch-peer.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { memoryRelay } from '../support/tab-group.js';
import { relayedClient } from './live-support.js';
import { synced, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/**
 * The promises made from handing `frame` to the client until the event loop's next turn (its handling done): those whose
 * chain of async resources (made while one of it runs, or triggered by one) starts in the delivery, so a timer of anything else (a heartbeat, another link's coalesced
 * ACK) that fires in that window on a loaded machine is not counted with it.
 */
function promisesFor(deliver: () => void): Promise<number> {
  return new Promise((resolve) => {
    let n = 0;
    const ours = new Set<number>();
    let root = -1;
    const hook = createHook({
      init: (id, type, trigger) => {
        const at = executionAsyncId();
        if (at !== root && !ours.has(at) && trigger !== root && !ours.has(trigger)) return;
        ours.add(id);
        if (type === 'PROMISE') n++;
      },
    });
    hook.enable();
    // A resource of its own to root the delivery's chain: what deliver() makes descends from it.
    new AsyncResource('concord-delivery').runInAsyncScope(() => {
      root = executionAsyncId();
      deliver();
    });
    root = -1;
    setImmediate(() => {
      hook.disable();
      resolve(n);
    });
  });
}

const setup = (speaks: readonly number[]) => relayedClient(open, { speaks });

/** The writer writes `key`; the relay's frame to the client is held and handed over alone, its promises counted. */
async function deliverOne(s: Awaited<ReturnType<typeof setup>>, key: string, value: unknown, watch?: { on(): void; off(): void }) {
  s.gate.hold = true;
  const from = s.gate.held.length;
  await s.writer.space('s').put(key, value);
  await until(() => s.gate.held.length > from, 'the relay forwarded the write');
  for (let i = 0; i < 3; i++) await new Promise((r) => setImmediate(r)); // nothing else on its way
  expect(s.gate.held.length).toBe(from + 1);
  const frame = s.gate.held.pop()!;
  expect(frame instanceof Uint8Array && (frame[0] === MsgType.Live || frame[0] === MsgType.LiveCleared)).toBe(true);
  const before = s.events.length;
  // Frames the relay sends meanwhile (an ACK, a TOP) stay held: the count is this frame's alone.
  watch?.on();
  let told = 0; // events told within the call that handed the frame over
  const promises = await promisesFor(() => (s.gate.deliver(frame), (told = s.events.length - before)));
  watch?.off();
  expect(s.events.length).toBe(before + 1);
  s.gate.hold = false;
  for (const f of s.gate.held.splice(0)) s.gate.deliver(f);
  return { promises, told, event: s.events[before]! };
}

describe.each([
  ['10', SPEAKS_10],
  ['11', WITH_11],
] as const)('a client receiving a live frame (S7, per delivery), protocol %s', (_, speaks) => {
  it('stores it and tells its subscriber the value within the call that hands it over, making no promise (memory storage answers at once)', async () => {
    const s = await setup(speaks);
    for (let i = 0; i < 5; i++) await deliverOne(s, `w${i}`, { i }); // code paths warm, the session's tables seeded
    const { promises, told, event } = await deliverOne(s, 'k', { title: 'item 1', done: false, n: 1 });
    expect(event).toEqual({ key: 'k', value: { title: 'item 1', done: false, n: 1 }, siblings: [{ title: 'item 1', done: false, n: 1 }], conflict: false, deleted: false, origin: 'remote' });
    // Counted with async_hooks on (each await then makes a promise of its own). Before (issue 14): 21 — the entries'
    // resolving when none needs it, the cursor hook a client has not, the note of the cursor write (Promise.all of
    // nothing on its way, and a second promise to forget it): 12; then the join's transaction promise, its async step
    // and the note of a cursor write durable at once (core.ts joinNow commits where the memory storage answers at once): 6
    // of the delivery's own chain (11 before joinNow, counted so; 7 and 12 when every promise of the window counted);
    // then the session's receive chain (its inbox's then and catch, the async handle and changes, their returns): none
    // now, the frame handled in the call (inbox.ts), its event told before the call returns (before: after it, 0 in it).
    expect(told).toBe(1);
    expect(promises).toBe(0);
    // What it must still do: the record and its cursor are stored, and the client answers (its ACK goes, coalesced).
    expect(await s.client.space('s').get('k')).toMatchObject({ value: { title: 'item 1', done: false, n: 1 } });
    await synced(s.writer, s.client);
    const [again] = await Promise.all([s.client.space('s').get('k'), s.writer.space('s').put('k2', 2).then((w) => w.synced)]);
    expect(again?.value).toEqual({ title: 'item 1', done: false, n: 1 });
  });

  it('a plain value is decoded once: the event takes the tree the wire read (no JSON.parse of the text it just made), as a read gives it', async () => {
    const s = await setup(speaks);
    for (let i = 0; i < 3; i++) await deliverOne(s, `w${i}`, { i });
    const value = { b: [1, 0, 2.5, -7, { '10': 'ten', '2': 'two', é: 'ü\u{1F600}' }], a: null, t: true, s: 'x'.repeat(80) };
    // JSON.parse while the client handles the frame (the relay's encoding of it, before, parses the stored text too).
    let parsed = 0;
    const parse = vi.spyOn(JSON, 'parse');
    const { event } = await deliverOne(s, 'p', value, { on: () => parse.mockClear(), off: () => (parsed = parse.mock.calls.length) });
    parse.mockRestore();
    const read = (await s.client.space('s').get('p'))!.value;
    // What the event holds is what a read gives, and not the read's object.
    expect(event.value).toStrictEqual(read);
    expect(event.value).toStrictEqual(value);
    expect(event.value).not.toBe(read);
    expect(event.siblings[0]).toBe(event.value);
    // Before: one JSON.parse of the stored text for the event (space.ts changeEvent), and nothing else parses here.
    expect(parsed).toBe(0);
  });

  it('a change of several siblings, or of a value that does not decode, is told as the view reads it', async () => {
    const s = await setup(speaks);
    await deliverOne(s, 'a', 1);
    // Two writers' concurrent values: ordered and shown as a conflict.
    const other = await openReplica({ storage: memoryStorage(), speaks });
    open.push(other);
    await other.space('s').put('c', 'theirs');
    await s.writer.space('s').put('c', 'ours');
    other.connect(memoryRelay(s.relay).transport());
    await until(async () => (await s.client.space('s').get('c'))?.siblings.length === 2, 'both siblings reached the client');
    const last = s.events.filter((e) => e.key === 'c').at(-1)!;
    expect(last.conflict).toBe(true);
    expect([...last.siblings].sort()).toEqual(['ours', 'theirs']);
    // One version whose stored value is not JSON (storage written before values were checked): the view leaves it out
    // and reports it; the event says what a read says.
    const errors: unknown[] = [];
    s.client.on('error', (e) => errors.push(e));
    const rec = { vs: [{ r: other.replicaId, n: 9, t: Date.now(), c: 0, v: '{not json' }], cc: { [other.replicaId]: 9 }, seq: 99, h: 'x' };
    s.client.core.events.emit('change', { space: 's', key: 'bad', rec, prev: undefined, origin: 'remote' });
    expect(s.events.at(-1)).toEqual({ key: 'bad', value: undefined, siblings: [], conflict: false, deleted: true, origin: 'remote' });
    expect(errors).toHaveLength(1);
  });
});

describe('a joined record', () => {
  it('a joined record keeps its fields in the order stored records always had (file storage writes it as JSON)', () => {
    const vs = [{ r: 'a', n: 1, t: 5, c: 0, v: '1' }];
    expect(Object.keys(record('k', { vs, cc: { a: 1 } }, 3, 'p'))).toEqual(['vs', 'cc', 'seq', 'h', 'src']);
    expect(Object.keys(record('k', { vs, cc: { a: 1 } }, 3))).toEqual(['vs', 'cc', 'seq', 'h']);
    const pts = { a: [{ n: 1, e: 'x' }] } as never;
    expect(Object.keys(record('k', { vs, cc: { a: 1 }, pts }, 3, 'p'))).toEqual(['vs', 'cc', 'pts', 'seq', 'h', 'src']);
  });
});
