/**
 * A relay speaking protocol 11 learns the epoch records of the clients it meets (hellos, EPOCHS frames, frames'
 * epoch tables). It stored every client id's records, up to 65 536 per id with no bound on the ids, and loads them all
 * at every open: a client reconnecting under fresh ids grew both without bound. Now a client's records stay in memory
 * while the relay stores nothing naming that client (epoch-holds.ts), go with its last session, and are stored once a
 * state holding its version is joined.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Relay } from '../../adapters/relay/index.js';
import { randomId } from '../../lib/ids.js';
import { openReplica, type Replica } from '../../lib/index.js';
import { memoryStorage } from '../../lib/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { EPOCH_INDEX_META, EPOCH_META } from '../../lib/epoch-store.js';
import { Epochs, type EpochRecord } from '../../lib/epoch-points.js';
import { EPOCH_DOTS, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { encodeMessage, MsgType } from '../../lib/sync/messages.js';
import { dotsContext } from '../../lib/sync/wire-state.js';
import { rawSession, syncItem } from '../security/raw-session.js';
import { RAW_VERSIONS, SPEAKS_10 } from '../support/raw-versions.js';
import { closeAll, startRelay, synced, until } from './support.js';

const WITH_11 = [...RAW_VERSIONS, EPOCH_DOTS];
type Core = Replica['core'];
const coreOf = (r: Relay | Replica): Core => ('replica' in r ? r.replica : r).core;

const open: Array<Relay | Replica> = [];
const dirs: string[] = [];
afterAll(async () => {
  await closeAll(...open);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A chain of `n` records of fresh epochs, oldest first, the first forking from the untagged root. */
function chain(n: number): EpochRecord[] {
  const out: EpochRecord[] = [];
  for (let i = 0; i < n; i++) out.push({ e: randomId(), parent: i === 0 ? '' : out[i - 1]!.e, fork: i * 3 });
  return out;
}

async function relaySpeaking11(dataDir?: string): Promise<Relay> {
  const relay = await startRelay(dataDir ? { dataDir } : {});
  coreOf(relay).speaks = WITH_11;
  open.push(relay);
  return relay;
}

/** A raw client at 11 under a fresh id: its hello, then `records` of its own epochs in one EPOCHS frame; `write` a key too. */
async function teach(relay: Relay, records: EpochRecord[], write?: string) {
  const s = rawSession(relay.url, { versions: WITH_11, spaces: [syncItem('s', { keys: 1 })] });
  await s.ready;
  s.send({ type: MsgType.Epochs, records });
  if (write) {
    // Written in 11's form: the version's epoch is the one its hello history implies for it (so it names none).
    const vs = [{ r: s.replicaId, n: 1, t: Date.now(), c: 0, v: JSON.stringify(write), ep: s.epoch }];
    const link: EpochLink = { me: { id: s.replicaId, chain: [[s.epoch, 0]] }, peer: { id: s.relay!.replicaId, chain: [] }, reg: () => new Epochs(), learn: () => undefined };
    s.sendRaw(encodeMessage({ type: MsgType.Changes, space: 's', upTo: 0, entries: [[write, { vs, ...dotsContext(vs) }]] }, [s.replicaId, s.relay!.replicaId], { epochs: link }));
    await until(async () => (await coreOf(relay).storage.get('s', write)) !== undefined || s.isClosed, 'the relay stored the key');
  }
  const last = records[records.length - 1]!.e;
  await until(() => coreOf(relay).epochs.knows(s.replicaId, last) || s.isClosed, 'the relay learned the chain');
  expect(s.isClosed).toBe(false);
  return s;
}

const storedIds = async (relay: Relay) => (await coreOf(relay).storage.getMeta<string[]>(EPOCH_INDEX_META)) ?? [];

describe('the epoch records a relay keeps of its clients', () => {
  it('a client cycling through fresh ids at 11 leaves no records stored, nor in memory once its sessions end', async () => {
    const relay = await relaySpeaking11();
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) {
      const s = await teach(relay, chain(300));
      ids.push(s.replicaId);
      // While the session lives its records judge its frames as any do.
      expect(coreOf(relay).epochs.recordsOf(s.replicaId)).toHaveLength(300);
      s.close();
      await s.closed;
    }
    await until(() => relay.connections === 0, 'every session ended');
    // A store the relay makes for another reason (its own records at 11 links) does not take them either.
    await coreOf(relay).saveEpochs();
    const stored = await storedIds(relay);
    for (const id of ids) {
      expect(stored).not.toContain(id);
      expect(await coreOf(relay).storage.getMeta(EPOCH_META + id)).toBeUndefined();
      expect(coreOf(relay).epochs.recordsOf(id)).toEqual([]);
    }
  });

  it('a client whose version the relay stores keeps its records, stored, across a restart', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'concord-epoch-holds-'));
    dirs.push(dataDir);
    let relay = await relaySpeaking11(dataDir);
    const records = chain(40);
    const s = await teach(relay, records, 'k');
    const id = s.replicaId;
    await until(async () => (await storedIds(relay)).includes(id), 'the records stored');
    s.close();
    await s.closed;
    await until(() => relay.connections === 0, 'the session ended');
    expect(coreOf(relay).epochs.recordsOf(id)).toHaveLength(40);
    await relay.close();
    relay = await relaySpeaking11(dataDir);
    expect(coreOf(relay).epochs.chainOf(id, records[39]!.e)).toEqual(records);
  });

  it('an honest client writing at 11 has its records stored; a reader of the same relay too once its own write arrives', async () => {
    const relay = await relaySpeaking11();
    // Opened speaking 10 (their first epochs plain labels, not root labels: a hello then teaches no record), then 11.
    const writer = await openReplica({ storage: memoryStorage(), speaks: SPEAKS_10 });
    const reader = await openReplica({ storage: memoryStorage(), speaks: SPEAKS_10 });
    open.push(writer, reader);
    for (const r of [writer, reader]) {
      r.core.speaks = WITH_11;
      r.space('s');
      r.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    }
    await synced(writer);
    await synced(reader);
    await (await writer.space('s').put('k', 1)).synced;
    await until(async () => (await storedIds(relay)).includes(writer.replicaId), "the writer's records stored");
    await until(async () => (await reader.space('s').get('k'))?.value === 1, 'the reader has the key');
    // The reader wrote nothing: none of its records is stored, nor even sent — a replica's chain goes right before its
    // first frame carrying a tagged dot of its own (epoch-chain.ts ChainOut), and a hello at 11 teaches none.
    expect(await storedIds(relay)).not.toContain(reader.replicaId);
    expect(coreOf(relay).epochs.knows(reader.replicaId, reader.core.epoch)).toBe(false);
    await (await reader.space('s').put('r', 2)).synced;
    await until(async () => (await storedIds(relay)).includes(reader.replicaId), "the reader's records stored");
  });

  it('a reader opened at 11 is known from its hello (its root label) and stored only once its own write arrives', async () => {
    const relay = await relaySpeaking11();
    const reader = await openReplica({ storage: memoryStorage(), speaks: WITH_11 });
    open.push(reader);
    reader.space('s');
    reader.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
    await synced(reader);
    await until(() => coreOf(relay).epochs.knows(reader.replicaId, reader.core.epoch), "the reader's hello taught its epoch");
    expect(await storedIds(relay)).not.toContain(reader.replicaId);
    await (await reader.space('s').put('r', 2)).synced;
    await until(async () => (await storedIds(relay)).includes(reader.replicaId), "the reader's records stored");
  });
});
