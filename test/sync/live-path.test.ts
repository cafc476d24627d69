/**
 * The live fast path (lib/sync/outgoing.ts, hub.ts): a change stored while a stream is caught up goes out from its
 * event, without reading the log back. It used to be taken only when the hub knew the space's last seq from a space
 * that had entries at the hello (an empty space, a new document, never got it), and only when the change's seq
 * followed that space's last one (a replica writing two spaces never got it: seqs are one sequence for every space).
 * Then every change cost each session a log read and its own copy of the entry (a relay with n clients: n reads and
 * n model states per write). Counted here as log reads on the hub's storage, w — h — c over in-memory pairs.
 *
 * At protocol 11 (every replica opened with `speaks` listing it, as announcing 11 would make every default replica) a
 * fresh storage starts tagging at its first hello at 11 and moves its log's seq by one with no record under it
 * (identity.ts meetEpochPeer). The hub took that seq for a gap (a commit it had not seen as an event), so the first
 * change of every space but the first after it fell off the live path: each session of the writer and of the hub read
 * the log for it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica, type StorageAdapter } from '../../lib/index.js';
import type { KeyRecord } from '../../lib/storage.js';
import { LogStream } from '../../lib/sync/outgoing.js';
import { WITH_11 } from '../support/epoch-peer.js';
import { streamPort, until } from './support.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

/** Memory storage that counts its log reads. */
function countingStorage(): { storage: StorageAdapter; readonly reads: number } {
  const storage = memoryStorage();
  const read = storage.readLog.bind(storage);
  let reads = 0;
  storage.readLog = (...args) => {
    reads++;
    return read(...args);
  };
  return {
    storage,
    get reads() {
      return reads;
    },
  };
}

async function chain(spaces: string[], speaks?: readonly number[]) {
  const counted = countingStorage();
  const writer = countingStorage();
  const w = await openReplica({ storage: writer.storage, speaks });
  const h = await openReplica({ storage: counted.storage, speaks });
  const cs = [await openReplica({ storage: memoryStorage(), speaks }), await openReplica({ storage: memoryStorage(), speaks })];
  open.push(w, h, ...cs);
  for (const r of [w, h, ...cs]) for (const s of spaces) r.space(s);
  const [tw, th] = pairTransports();
  w.connect(tw);
  h.connect(th);
  for (const c of cs) {
    const [a, b] = pairTransports();
    h.connect(a);
    c.connect(b);
  }
  await until(() => [w, h, ...cs].every((r) => r.status === 'synced'), 'all synced');
  return { w, h, cs, counted, writer };
}

/** Every replica at protocol 11 (default: what every release announces). */
const PROTOCOLS = [['default', undefined], ['at protocol 11', WITH_11]] as const;

describe.each(PROTOCOLS)('the live fast path (%s)', (_, speaks) => {
  it('streams the writes of a space that was empty at the hello without reading the log', async () => {
    const { w, cs, counted, writer } = await chain(['doc'], speaks);
    await (await w.space('doc').put('seed', 0)).synced; // the first change on a hub is announced without a predecessor
    const before = counted.reads + writer.reads;
    for (let i = 0; i < 20; i++) await (await w.space('doc').put(`k${i}`, i)).synced;
    for (const c of cs) await until(async () => (await c.space('doc').get('k19'))?.value === 19, 'every write on every client');
    // Two client sessions, 20 writes: the log path read the log at least once per session per write.
    expect(counted.reads + writer.reads - before).toBeLessThan(5);
    for (const c of cs) for (let i = 0; i < 20; i++) expect((await c.space('doc').get(`k${i}`))?.value).toBe(i);
  });

  it('streams writes to two spaces in turn without reading the log', async () => {
    const { w, cs, counted, writer } = await chain(['a', 'b'], speaks);
    await (await w.space('a').put('seed', 0)).synced; // the first change on a hub is announced without a predecessor
    const before = counted.reads + writer.reads;
    for (let i = 0; i < 20; i++) await (await w.space(i % 2 ? 'b' : 'a').put(`k${i}`, i)).synced;
    for (const c of cs) await until(async () => (await c.space('b').get('k19'))?.value === 19, 'every write on every client');
    // At 11 before the hub passed over the seq its tagging start took: 6 reads on the hub and 2 on the writer.
    expect(counted.reads + writer.reads - before).toBeLessThan(5);
    for (const c of cs) for (let i = 0; i < 20; i++) expect((await c.space(i % 2 ? 'b' : 'a').get(`k${i}`))?.value).toBe(i);
  });
});

describe('LogStream (outgoing.ts)', () => {
  it('does not send a change again that a log read sent before its event came', async () => {
    const rec = { seq: 1, src: 'other', vs: [], cc: {} };
    const sent: number[] = [];
    // The commit is durable and in the log before its change event reaches the stream.
    const readLog = async (after: number) => (after < 1 ? [['k', rec as unknown as KeyRecord] as [string, KeyRecord]] : []);
    const stream = new LogStream('s', streamPort(sent, { readLog, lastSeq: () => 1 }), () => 0);
    stream.start(0, 0);
    await until(() => sent.length === 1, 'the log read sent it');
    await new Promise((r) => setTimeout(r, 0));
    stream.changed({ space: 's', key: 'k', rec } as never, 0);
    await new Promise((r) => setTimeout(r, 0));
    // A second frame up to 1 would take the peer's cursor backwards (it refuses that as a protocol error).
    expect(sent).toEqual([1]);
  });
});
