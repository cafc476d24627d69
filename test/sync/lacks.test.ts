/**
 * A replica is not synced while it lacks a version its peer could not send it (lacks.ts). A version over a link's
 * frame limit is not sent on that link (the sender reports VALUE_TOO_LARGE); before LEFT the receiver's cursor passed
 * the key, and it reported `synced` (whenSynced resolved) while it lacked the version. Now the sender tells it: it
 * reports VALUE_TOO_LARGE, its status stays 'syncing', and the lack ends once a state covering the version arrives —
 * a smaller write, a delete, or the same version over a link that carries it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica, type Transport } from '../../lib/index.js';
import type { Connection } from '../../lib/transport.js';
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

/** Two transport ends whose connections go over a pair of frame limit `frame`; `next` drops them onto a new pair. */
function switchable(frame: number | undefined): { ends: [Transport, Transport]; next(frame: number | undefined): void } {
  const pairOf = (f: number | undefined) => (f === undefined ? pairTransports() : pairTransports({ maxFrameBytes: f }));
  let pair = pairOf(frame);
  const conns: Connection[] = [];
  const end = (i: 0 | 1): Transport => ({ open: async (h) => { const c = await pair[i].open(h); conns.push(c); return c; } });
  return { ends: [end(0), end(1)], next: (f) => { pair = pairOf(f); for (const c of conns.splice(0)) c.close(1001, 'moved'); } };
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

  it('asks for it again after a reconnect: told again over a narrow connection, carried by a wide one', async () => {
    const holder = await replica();
    await holder.space('s').put('big', BIG);
    const reader = await replica();
    const errors: unknown[] = [];
    reader.on('error', (e) => errors.push(e));
    const net = switchable(FRAME);
    links.push(holder.connect(net.ends[0], { antiEntropyInterval: 0, backoff: { base: 10, max: 20 } }), reader.connect(net.ends[1], { antiEntropyInterval: 0, backoff: { base: 10, max: 20 } }));
    await until(() => tooLarge(errors).length === 1, 'told once');
    // Dropped and connected again, as narrow: the reader's cursor passed "big"; it asks, and is told again.
    net.next(FRAME);
    await until(() => tooLarge(errors).length === 2, 'told again after the reconnect');
    await settle();
    expect(reader.status, 'lacked again over a narrow connection').not.toBe('synced');
    // Wide: asked for, carried.
    net.next(undefined);
    await until(() => reader.status === 'synced', 'reader synced over a wide connection');
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

  it('a reader restarted after its cursor passed the key still lacks it (stored), with no anti-entropy run to find it', async () => {
    const holder = await replica();
    await holder.space('s').put('big', BIG);
    await holder.space('s').put('small', 1);
    const storage = memoryStorage();
    const first = await openReplica({ storage, maxValueBytes: 64 * 1024 });
    first.space('s');
    const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
    const holderLink = holder.connect(ta, { antiEntropyInterval: 0 });
    links.push(holderLink);
    first.connect(tb, { antiEntropyInterval: 0 });
    await until(async () => (await first.space('s').get('small')) !== undefined, 'small at the first reader: its cursor passed big');
    await settle();
    expect(first.status).not.toBe('synced');
    await first.close();
    const again = await openReplica({ storage, maxValueBytes: 64 * 1024 });
    open.push(again);
    again.space('s');
    const errors: unknown[] = [];
    again.on('error', (e) => errors.push(e));
    const [tc, td] = pairTransports({ maxFrameBytes: FRAME });
    holderLink.close();
    links.push(holder.connect(tc, { antiEntropyInterval: 0 }), again.connect(td, { antiEntropyInterval: 0 }));
    // It asks for what it lacked (NEED): told again. Without the stored lack, nothing would (its cursor passed the key).
    await until(() => tooLarge(errors).length > 0, 'told again');
    await settle();
    expect(again.status).not.toBe('synced');
    expect(await again.space('s').get('big')).toBeUndefined();
  });
});
