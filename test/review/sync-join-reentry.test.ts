/**
 * Review of s7k (core.ts joinNow: a received frame's join commits through transactNow and tells its subscribers before it
 * returns, inside the session's handling of the frame): subscribers that act inside the change event of a received write
 * — write the key back, delete it, read it, throw, drop the link, close the replica — leave the session's answers (ACK,
 * cursor), the pending counts and the change order right, as they did with the join that took a turn.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type ChangeEvent, type Replica } from '../../lib/index.js';
import { dump, synced, until } from '../sync/support.js';
import { WITH_11 } from '../support/epoch-peer.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { paired, value } from './paired.js';

const { undo, connect } = paired();

/** The writer `a` and the subscriber `b`, of these protocol releases (b of an earlier one than a, in one case). */
async function pair(speaks: { a: readonly number[]; b: readonly number[] }): Promise<{ a: Replica; b: Replica; errors: unknown[]; links: ReturnType<typeof connect> }> {
  const a = await openReplica({ storage: memoryStorage(), speaks: speaks.a });
  const b = await openReplica({ storage: memoryStorage(), speaks: speaks.b });
  undo.push(() => a.close(), () => b.close());
  const errors: unknown[] = [];
  a.core.events.on('error', (e) => void errors.push(e));
  b.core.events.on('error', (e) => void errors.push(e));
  await a.space('s').put('warm', 0);
  const links = connect(a, b);
  await until(async () => (await value(b, 'warm')) === 0 && a.status === 'synced' && b.status === 'synced', 'met and synced');
  return { a, b, errors, links };
}

describe.each([
  ['10', { a: SPEAKS_10, b: SPEAKS_10 }],
  ['11', { a: WITH_11, b: WITH_11 }],
  ['11 to a peer at 10', { a: WITH_11, b: SPEAKS_10 }],
] as const)('a subscriber acting inside the change event of a received write (joinNow tells before it returns), protocol %s', (_, speaks) => {
  it('writes the same key back: both replicas converge on its write, every write is acknowledged, nothing reported', async () => {
    const { a, b, errors } = await pair(speaks);
    const back: Array<Promise<unknown>> = [];
    const seen: ChangeEvent[] = [];
    b.space('s').subscribe('k', (e) => {
      seen.push(e);
      if (e.origin === 'remote' && typeof e.value === 'number') back.push(b.space('s').put('k', `seen ${e.value}`).then((w) => w.synced));
    });
    const w = await a.space('s').put('k', 1);
    await w.synced;
    await until(() => back.length === 1, 'the subscriber wrote back');
    await Promise.all(back);
    await until(async () => (await value(a, 'k')) === 'seen 1', 'the write back reached a');
    await synced(a, b);
    expect(await dump(a, 's')).toEqual(await dump(b, 's'));
    expect(seen.map((e) => [e.origin, e.value])).toEqual([
      ['remote', 1],
      ['local', 'seen 1'],
    ]);
    expect(errors).toEqual([]);
  });

  it('deletes the key and writes another one, in the event of each of several writes in a row: the same log on both ends', async () => {
    const { a, b, errors } = await pair(speaks);
    const done: Array<Promise<unknown>> = [];
    b.space('s').subscribe('in*', (e) => {
      if (e.origin !== 'remote' || e.deleted) return;
      done.push(b.space('s').delete(e.key).then((w) => w.synced));
      done.push(b.space('s').put('out' + e.key.slice(2), e.value).then((w) => w.synced));
    });
    const writes = [];
    for (let i = 0; i < 6; i++) writes.push(await a.space('s').put('in' + i, i));
    await Promise.all(writes.map((w) => w.synced));
    await until(() => done.length === 12, 'the subscriber acted on every write');
    await Promise.all(done);
    await until(async () => (await value(a, 'out5')) === 5 && (await value(a, 'in5')) === undefined, 'its writes reached a');
    await synced(a, b);
    const want = await dump(a, 's');
    expect(Object.keys(want).sort()).toEqual(['out0', 'out1', 'out2', 'out3', 'out4', 'out5', 'warm']);
    expect(await dump(b, 's')).toEqual(want);
    expect(errors).toEqual([]);
  });

  it('reads the key: the read gives the value the event tells', async () => {
    const { a, b } = await pair(speaks);
    const reads: Array<Promise<unknown>> = [];
    b.space('s').subscribe('k', (e) => void reads.push(b.space('s').get('k').then((g) => [e.value, g?.value])));
    await (await a.space('s').put('k', { n: 1 })).synced;
    await until(() => reads.length === 1, 'told');
    expect(await reads[0]).toEqual([{ n: 1 }, { n: 1 }]);
  });

  it('throws: the error is reported, the write is stored and acknowledged, the link stays and carries the next write', async () => {
    const { a, b, errors } = await pair(speaks);
    const boom = new Error('subscriber failed');
    b.space('s').subscribe('k*', () => {
      throw boom;
    });
    const w1 = await a.space('s').put('k1', 1);
    await w1.synced;
    expect(await value(b, 'k1')).toBe(1);
    const w2 = await a.space('s').put('k2', 2);
    await w2.synced;
    expect(await value(b, 'k2')).toBe(2);
    expect(errors).toEqual([boom, boom]);
    await synced(a, b);
  });

  it('drops the link: the write stays stored; linked again, both converge and the write is acknowledged', async () => {
    const { a, b, errors, links } = await pair(speaks);
    let dropped = 0;
    b.space('s').subscribe('k', () => {
      dropped++;
      for (const l of links) l.close();
    });
    const w = await a.space('s').put('k', 1);
    await until(() => dropped === 1, 'told');
    expect(await value(b, 'k')).toBe(1);
    connect(a, b);
    await w.synced;
    await synced(a, b);
    expect(await dump(b, 's')).toEqual(await dump(a, 's'));
    expect(errors).toEqual([]);
  });

  it('closes its replica: no error reported, no rejection left unhandled; opened again on its storage it has the write and catches up', async () => {
    const { a, b, errors, links } = await pair(speaks);
    const storage = b.core.storage;
    let closing: Promise<void> | undefined;
    b.space('s').subscribe('k', () => {
      closing ??= b.close();
    });
    await a.space('s').put('k', 1);
    await until(() => closing !== undefined, 'told');
    await closing;
    for (const l of links) l.close(); // a's end of the link to the closed replica
    const w2 = await a.space('s').put('k2', 2);
    const b2 = await openReplica({ storage, speaks: speaks.b });
    undo.push(() => b2.close());
    expect(await value(b2, 'k')).toBe(1);
    connect(a, b2);
    await until(async () => (await value(b2, 'k2')) === 2, 'b caught up');
    await w2.synced;
    await synced(a, b2);
    expect(await dump(b2, 's')).toEqual(await dump(a, 's'));
    expect(errors).toEqual([]);
  });
});
