/**
 * Keys a client did not hold, delivered by a relay (dvv.ts joinWith: a join into the empty state gives the delivered
 * state itself when it is canonical): a client on memory storage and one on file storage (the async path, reopened
 * after) end with the writer's keys, versions and siblings, and a listener that writes during delivery (a key of its own
 * per key received) has its writes reach the writer; with every replica at protocol 11 (states naming epochs) and at
 * protocol 10 (untagged states, vectors only: a 10-speaker beside writers at 11 gets none of their tagged keys, by design).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { fileStorage } from '../../adapters/fs/index.js';
import { SPEAKS_10 } from '../support/raw-versions.js';
import { memoryRelay } from '../support/tab-group.js';
import { dump, synced, until } from './support.js';

const open: Replica[] = [];
const dirs: string[] = [];
afterAll(async () => {
  for (const r of open.reverse()) await r.close().catch(() => {});
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('fresh keys joined on clients of a relay', () => {
  it.each([
    ['11', {}],
    ['10', { speaks: SPEAKS_10 }],
  ])('protocol %s: memory and file clients hold the writer’s keys; a listener writing during delivery is heard', async (_, o) => {
    const relay = await openReplica({ storage: memoryStorage(), ...o });
    const mem = memoryRelay(relay);
    const writer = await openReplica({ storage: memoryStorage(), ...o });
    open.push(relay, writer);
    writer.space('s');
    writer.connect(mem.transport());
    const dir = mkdtempSync(path.join(tmpdir(), 'concord-fresh-'));
    dirs.push(dir);
    const onFile = await openReplica({ storage: fileStorage(dir), ...o });
    const onMemory = await openReplica({ storage: memoryStorage(), ...o });
    const clients = [onFile, onMemory];
    open.push(...clients);
    for (const c of clients) {
      c.space('s');
      c.connect(mem.transport());
    }
    // onMemory's listener writes a key of its own for each key it is delivered, inside the delivery.
    onMemory.space('s').subscribe('k*', (e) => {
      if (e.origin === 'remote') void onMemory.space('s').put(`echo-${e.key}`, e.deleted ? null : e.value);
    });
    await synced(writer, ...clients);
    const s = writer.space('s');
    for (let i = 0; i < 20; i++) await s.put(`k${i}`, { i });
    await s.put('k3', { i: 3, again: true }); // a key the clients hold already: the join's own path
    await s.delete('k5');
    await until(async () => (await writer.space('s').get('echo-k19')) !== undefined, 'the listener’s writes reached the writer');
    await synced(writer, ...clients);
    const want = await dump(writer, 's');
    expect(Object.keys(want).filter((k) => k.startsWith('echo-')).length).toBeGreaterThanOrEqual(20);
    // 'synced' is each side's own view: a client may still be joining frames in flight (file storage the slowest).
    const text = JSON.stringify(want);
    for (const [i, c] of clients.entries()) {
      await until(async () => JSON.stringify(await dump(c, 's')) === text, `the ${['file', 'memory'][i]} client holds the writer's keys`, 10_000);
    }
    await onFile.close();
    const again = await openReplica({ storage: fileStorage(dir), ...o });
    open.push(again);
    expect(await dump(again, 's')).toEqual(want);
  }, 30_000);
});
