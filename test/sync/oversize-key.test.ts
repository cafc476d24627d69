/**
 * A key whose siblings together outgrow the frame limit (each value well under it) still reaches every peer: on a
 * catch-up from an empty replica, through anti-entropy, and live. Frames are 16 KiB, values 4 000 bytes, five writers:
 * the key's state is about 20 KB.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { synced, until } from './support.js';

const FRAME = 16 * 1024;
const WRITERS = 5;
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function replica(errors: unknown[]): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 8 * 1024 });
  r.on('error', (e) => errors.push(e));
  r.space('s');
  open.push(r);
  return r;
}

function link(a: Replica, b: Replica): void {
  const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
  a.connect(ta, { antiEntropyInterval: 0 });
  b.connect(tb, { antiEntropyInterval: 0 });
}

const value = (i: number) => `${i}:`.padEnd(4000, String.fromCharCode(97 + i));

/** A hub holding the key with one sibling from each of WRITERS offline writers, each linked to the hub in turn. */
async function hubWithSiblings(errors: unknown[]): Promise<{ hub: Replica; writers: Replica[] }> {
  const hub = await replica(errors);
  const writers: Replica[] = [];
  for (let i = 0; i < WRITERS; i++) {
    const w = await replica(errors);
    await w.space('s').put('big', value(i));
    writers.push(w);
  }
  for (const w of writers) {
    link(w, hub);
    await synced(w, hub);
  }
  await until(async () => (await hub.space('s').get('big'))?.versions.length === WRITERS, 'the hub holds every sibling');
  return { hub, writers };
}

async function expectAllSiblings(r: Replica): Promise<void> {
  await until(async () => (await r.space('s').get('big'))?.versions.length === WRITERS, 'every sibling arrives', 3000);
  const got = await r.space('s').get('big');
  expect([...got!.siblings].sort()).toEqual([0, 1, 2, 3, 4].map(value).sort());
}

describe('a key whose siblings outgrow one frame', () => {
  it('reaches a replica that connects later (catch-up from an empty replica)', async () => {
    const errors: unknown[] = [];
    const { hub } = await hubWithSiblings(errors);
    const late = await replica(errors);
    link(late, hub);
    await synced(late, hub);
    await expectAllSiblings(late);
    expect(errors).toEqual([]);
  });

  it('reaches a replica that connects later by anti-entropy (no cursor, both sides hold data)', async () => {
    const errors: unknown[] = [];
    const { hub } = await hubWithSiblings(errors);
    const late = await replica(errors);
    await late.space('s').put('mine', 1);
    link(late, hub);
    await synced(late, hub);
    await expectAllSiblings(late);
    expect((await hub.space('s').get('mine'))?.value).toBe(1);
    expect(errors).toEqual([]);
  });

  it('reaches every connected writer live (the hub forwards the joined state)', async () => {
    const errors: unknown[] = [];
    const { writers } = await hubWithSiblings(errors);
    for (const w of writers) await expectAllSiblings(w);
    expect(errors).toEqual([]);
  });

  it('is forwarded live whole along a chain: hub → late → later, later linked first', async () => {
    const errors: unknown[] = [];
    const { hub } = await hubWithSiblings(errors);
    const late = await replica(errors);
    const later = await replica(errors);
    link(later, late);
    await synced(later, late);
    link(late, hub);
    await synced(late, hub);
    await expectAllSiblings(late);
    await expectAllSiblings(later);
    expect(errors).toEqual([]);
  });
});
