/**
 * A replica is not synced while it lacks a version its peer could not send it (lacks.ts). A version over a link's
 * frame limit is not sent on that link (the sender reports VALUE_TOO_LARGE); before LEFT the receiver's cursor passed
 * the key, and it reported `synced` (whenSynced resolved) while it lacked the version. Now the sender tells it: it
 * reports VALUE_TOO_LARGE, its status stays 'syncing', and the lack ends once a state covering the version arrives —
 * a smaller write, a delete, or the same version over a link that carries it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { until } from './support.js';

const FRAME = 16 * 1024;
const BIG = 'b'.repeat(30_000);
const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
  r.space('s');
  open.push(r);
  return r;
}

/** Links `a` and `b` over a pair of transports of frame limit `frame` (none: the default). */
function link(a: Replica, b: Replica, frame?: number): Link[] {
  const [ta, tb] = frame === undefined ? pairTransports() : pairTransports({ maxFrameBytes: frame });
  const pair = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  links.push(...pair);
  return pair;
}

const settle = (ms = 300) => new Promise((r) => setTimeout(r, ms));
const tooLarge = (errors: unknown[]) => errors.filter((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE');

/** `holder` holds BIG at "big" and "small" = 1; `reader` is linked to it over a narrow link, and has received "small". */
async function narrowReader(): Promise<{ holder: Replica; reader: Replica; errors: unknown[]; narrow: Link[] }> {
  const holder = await replica();
  await holder.space('s').put('big', BIG);
  await holder.space('s').put('small', 1);
  const reader = await replica();
  const errors: unknown[] = [];
  reader.on('error', (e) => errors.push(e));
  const narrow = link(holder, reader, FRAME);
  await until(async () => (await reader.space('s').get('small')) !== undefined, 'small at the reader');
  await settle();
  return { holder, reader, errors, narrow };
}

describe('a version the link could not carry', () => {
  it('keeps the reader from synced, and tells it which key', async () => {
    const { reader, errors } = await narrowReader();
    expect(await reader.space('s').get('big')).toBeUndefined();
    let resolved = false;
    void reader.whenSynced().then(() => (resolved = true), () => {});
    await settle();
    expect(reader.status, 'the reader lacks "big"').not.toBe('synced');
    expect(resolved, 'whenSynced while "big" is lacked').toBe(false);
    expect(tooLarge(errors).map((e) => (e as Error).message).join('\n')).toContain('"big"');
  });

  it('ends the lack when the key is written small, or deleted', async () => {
    for (const how of ['written small', 'deleted'] as const) {
      const { holder, reader } = await narrowReader();
      expect(reader.status).not.toBe('synced');
      if (how === 'deleted') await holder.space('s').delete('big');
      else await holder.space('s').put('big', 'small now');
      await until(() => reader.status === 'synced', `reader synced once "big" is ${how}`);
      expect((await reader.space('s').get('big'))?.value, how).toBe(how === 'deleted' ? undefined : 'small now');
    }
  });

  it('asks for it again on the next link, which carries it when wide enough', async () => {
    const { holder, reader, narrow } = await narrowReader();
    for (const l of narrow) l.close();
    // Narrow again: still lacked (told again), not synced.
    link(holder, reader, FRAME);
    await until(() => reader.status !== 'offline', 'linked again');
    await settle();
    expect(reader.status, 'lacked again over a narrow link').not.toBe('synced');
    for (const l of links.splice(0)) l.close();
    // Wide: the reader asks for "big" (its cursor passed it) and gets it.
    link(holder, reader);
    await until(() => reader.status === 'synced', 'reader synced over a wide link');
    expect((await reader.space('s').get('big'))?.value).toBe(BIG);
  });

  it('ends the lack when the version comes by another link', async () => {
    const { holder, reader } = await narrowReader();
    const wide = await replica();
    link(holder, wide);
    await until(async () => (await wide.space('s').get('big'))?.value === BIG, 'big at the wide replica');
    link(wide, reader);
    await until(() => reader.status === 'synced', 'reader synced once "big" came by the wide link');
    expect((await reader.space('s').get('big'))?.value).toBe(BIG);
  });
});
