/**
 * rev43's scene for the left-out review tests (after rev42's left-out-abandoned-run.test.ts): a writer on file storage
 * with log faults, a third replica, and a peer that got the writer's k 'old' and lost it in a crash (its storage not
 * flushed), so the writer's write of k is pending and the peer holds nothing of k nor any cursor into the writer's log.
 */
import { expect } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { faultyIo, tempDir, type Faults } from '../fs/helpers.js';
import { until } from '../sync/support.js';
import { volatileStorage } from '../support/volatile-storage.js';

export async function meet(a: Replica, b: Replica, done: () => Promise<boolean>, what: string, ms?: number): Promise<void> {
  const [ta, tb] = pairTransports();
  const links: Link[] = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  await until(done, what, ms);
  for (const l of links) l.close();
}

export const has = (r: Replica, key: string) => async () => (await r.space('s').get(key)) !== undefined;

/** Connects the two for the run under test (closed by `undo`). */
export function connect(a: Replica, b: Replica, undo: Array<() => Promise<void>>): void {
  const [ta, tb] = pairTransports();
  const links: Link[] = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  undo.push(async () => links.forEach((l) => l.close()));
}

/**
 * The scene. `before(writer, third, p)` runs once the writer met the third, before k is written (the peer, `p`, is then
 * fresh, its storage flushed). Returns the writer, the third, the reopened peer, and whether k 'old' counts synced.
 */
export async function lostScene(name: string, faults: Faults, undo: Array<() => Promise<void>>, before?: (writer: Replica, third: Replica, p: Replica) => Promise<void>) {
  const { dir, cleanup } = await tempDir(name);
  undo.push(cleanup);
  const writer = await openReplica({ storage: fileStorage(dir, { io: faultyIo(faults) }) });
  undo.push(() => writer.close());
  const third = await openReplica({ storage: memoryStorage() });
  undo.push(() => third.close());
  await third.space('s').put('q', 1);
  await meet(writer, third, has(writer, 'q'), 'the writer got q');
  const disk = volatileStorage();
  const p = await openReplica({ storage: disk });
  p.space('s');
  await before?.(writer, third, p);
  const first = await writer.space('s').put('k', 'old'); // durable
  await writer.space('s').put('o', 'other');
  let synced = false;
  void first.synced.then(() => (synced = true));
  disk.autoFlush = false;
  await meet(writer, p, has(p, 'o'), "the peer got the writer's log (not durably)");
  const after = await disk.crashed();
  (disk.autoFlush = true), disk.flush();
  await p.close();
  const peer = await openReplica({ storage: after });
  undo.push(() => peer.close());
  expect(peer.replicaId).toBe(p.replicaId);
  expect(await peer.space('s').get('k'), 'the crash took what the peer got').toBeUndefined();
  await meet(peer, third, has(peer, 'q'), 'the peer got q');
  return { writer, third, peer, synced: () => synced };
}

/**
 * Holds the first wait for a seq not durable yet (the run's, left-out.ts) until `release`, after the wait itself ends;
 * `seq` is the seq it waits for, `later` counts the waits for a seq not durable after it.
 */
export function holdFirstWait(r: Replica) {
  const core = r.core as unknown as { whenDurable: (seq: number, space?: string) => Promise<void>; durableSeq: number };
  const whenDurable = core.whenDurable.bind(core);
  let open: () => void = () => {};
  const barrier = new Promise<void>((res) => (open = res));
  const state = { waited: false, seq: 0, later: 0 };
  core.whenDurable = (seq, space) => {
    if (state.waited && seq > core.durableSeq) state.later++;
    if (state.waited || seq <= core.durableSeq) return whenDurable(seq, space);
    state.waited = true;
    state.seq = seq;
    return whenDurable(seq, space).then(() => barrier);
  };
  return { state, release: () => open() };
}

/**
 * Connects the two for the run under test, the writer's first wait for a left-out record held (`holdFirstWait`);
 * resolves once the run waits there. `runs()`: the writer's runs ended since.
 */
export async function heldRun(writer: Replica, peer: Replica, undo: Array<() => Promise<void>>) {
  const wait = holdFirstWait(writer);
  let runs = 0;
  writer.on('antiEntropy', () => runs++);
  connect(writer, peer, undo);
  await until(() => wait.state.waited, 'the run waits for a left-out record to be durable');
  return { ...wait, runs: () => runs };
}

/**
 * k rolled back to 'old' on the writer: a later write goes on the stream past the run's top and is acknowledged; once
 * the writer counts k's write synced (pending 0), the peer must hold k 'old'.
 */
export async function expectHeldOnceSynced(writer: Replica, peer: Replica, synced: () => boolean): Promise<void> {
  expect((await writer.space('s').get('k'))?.value, 'rolled back').toBe('old');
  await writer.space('s').put('w', 'later'); // the next commit: the stream past the top, acknowledged
  await until(async () => (await has(peer, 'w')()) && writer.status === 'synced' && peer.status === 'synced', 'synced after the later write');
  await until(() => synced() && writer.pending === 0, "the writer counts k's write synced");
  expect((await peer.space('s').get('k'))?.value, "k 'old' reported synced (pending 0) while the peer holds nothing of k").toBe('old');
}
