// What protocol 11 costs a link (docs/design/epochs-build.md, "Left (items 2 and 3)": Registry (c), Wire): a sender's
// own tagged dots imply their epoch from the history its hello announced (0 B an epoch), and its chain records go only
// to a peer that lacks them, right before its first frame carrying a tagged dot of its own (epoch-chain.ts). A server's
// hello says which of the client's epochs it holds (`holds`), read from its registry as it is at that moment.
import { describe, expect, it } from 'vitest';
import { UNTAGGED, type EpochRecord } from '../../lib/epoch-points.js';
import { MAX_SENT_EPOCHS, type EpochEntry } from '../../lib/epochs.js';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';
import { at11Replicas, metAt11, WITH_11 } from '../support/epoch-peer.js';
import type { StorageAdapter } from '../../lib/storage.js';
import { Reader, Writer } from '../../lib/sync/codec.js';
import { helloRecords } from '../../lib/sync/epoch-chain.js';
import { EPOCH_DOTS, type EpochLink } from '../../lib/sync/epoch-wire.js';
import { readHello, writeHello } from '../../lib/sync/hello-codec.js';
import { decodeMessage, MsgType, PROTOCOL_VERSIONS, writeChanges, type Hello } from '../../lib/sync/messages.js';
import { closeLinks as closeAll, dialingPair, epochFrames, linkLog, recorded } from '../support/link-log.js';
import { memoryRelay } from '../support/tab-group.js';
import { synced, until } from './support.js';

const { replica, open, links } = at11Replicas();

/**
 * A replica whose first tagged epoch has left the history its hellos carry (MAX_SENT_EPOCHS opens after it): its hello
 * teaches none of its records (epoch-chain.ts helloRecords), so its chain goes in EPOCHS frames where the peer lacks it.
 */
async function farReplica(storage: StorageAdapter = memoryStorage()): Promise<Replica> {
  await metAt11(storage);
  for (let i = 0; i <= MAX_SENT_EPOCHS; i++) await (await openReplica({ storage, speaks: WITH_11 })).close();
  const r = await replica(storage);
  const chain = r.core.epochs.chainOf(r.replicaId, r.core.epoch);
  expect(chain.length).toBeGreaterThan(MAX_SENT_EPOCHS);
  expect(helloRecords(r.core.history.slice(-MAX_SENT_EPOCHS))).toEqual([]);
  return r;
}

const pair = (a: Replica, b: Replica) => dialingPair(a, b, links);
const closeLinks = () => closeAll(links);

describe("a sender's own tagged dots on the wire", () => {
  it('imply their epoch from its hello: a catch-up frame names none of them (no table entry, no chain)', async () => {
    const a = await replica();
    const b = await replica();
    for (let i = 0; i < 20; i++) await a.space('s').put(`k${i}`, i);
    b.space('s');
    const { atB } = pair(a, b);
    await synced(a, b);
    await until(async () => (await b.space('s').get('k19')) !== undefined, 'b has a’s keys');
    // a's frames decoded as b's end of the link does: the implied epochs are those of a's hello history.
    const hello = decodeMessage(atB.in[0]!, { maxValueBytes: 1 << 20 }) as Hello;
    expect(hello.history.at(-1)).toEqual([a.core.epoch, 0]);
    const learned: string[] = [];
    const link: EpochLink = {
      me: { id: b.replicaId, chain: [] },
      peer: { id: a.replicaId, chain: hello.history },
      reg: () => b.core.epochs,
      learn: (r) => (learned.push(r), undefined),
    };
    const changes = atB.in.filter((f) => f[0] === MsgType.Changes).map((f) => decodeMessage(f, { maxValueBytes: 1 << 20, table: [a.replicaId, b.replicaId], epochs: link }));
    const versions = changes.flatMap((m) => (m.type === MsgType.Changes ? m.entries.flatMap(([, s]) => s.vs) : []));
    expect(versions.length).toBeGreaterThanOrEqual(20);
    expect(new Set(versions.map((v) => v.ep)), 'every version names a’s epoch').toEqual(new Set([a.core.epoch]));
    expect(learned, 'no frame carried a chain for a’s own epoch: its dots implied it').toEqual([]);
  });
});

describe('chain records go only where they are lacking', () => {
  it('a session that sends no tagged dot of its own sends no chain; the chain goes right before the first one', async () => {
    const a = await farReplica();
    const b = await farReplica();
    const chainOf = (r: Replica) => r.core.epochs.chainOf(r.replicaId, r.core.epoch);
    await a.space('s').put('k', 1);
    b.space('s');
    const first = pair(a, b);
    await synced(a, b);
    await until(async () => (await b.space('s').get('k')) !== undefined, 'b has k');
    // a's chain went to b before a's first frame carrying its tagged dot; b wrote nothing, so it sent none.
    const typesFromA = first.atA.out.map((f) => f[0]);
    const at = typesFromA.indexOf(MsgType.Epochs);
    expect(at, 'an EPOCHS frame from a').toBeGreaterThan(0);
    expect(typesFromA.slice(0, at), 'only the hello before it').toEqual([MsgType.Hello]);
    expect(epochFrames(first.atA.out)).toEqual([chainOf(a)]);
    expect(epochFrames(first.atB.out), 'b sent no tagged dot of its own: no chain').toEqual([]);
    expect(b.core.epochs.chainOf(a.replicaId, a.core.epoch)).toEqual(chainOf(a));
    await closeLinks();

    // Met again with nothing new: no EPOCHS either way (each session used to start with both chains).
    const quiet = pair(a, b);
    await synced(a, b);
    await new Promise((r) => setTimeout(r, 20));
    expect(epochFrames(quiet.atA.out)).toEqual([]);
    expect(epochFrames(quiet.atB.out)).toEqual([]);
    // b writes live now: its chain precedes its first tagged dot, once.
    await b.space('s').put('late', 1);
    await b.space('s').put('later', 2);
    await until(async () => (await a.space('s').get('later')) !== undefined, 'a has b’s writes');
    expect(epochFrames(quiet.atB.out)).toEqual([chainOf(b)]);
    expect(a.core.epochs.chainOf(b.replicaId, b.core.epoch)).toEqual(chainOf(b));
  });

  it("a server's hello says which of the client's epochs it holds: the client sends only the records after it", async () => {
    const server = await replica();
    server.space('s');
    const relay = memoryRelay(server);
    const storage = memoryStorage();
    let client = await farReplica(storage);
    const firstEpoch = client.core.epoch;
    const firstChain = client.core.epochs.chainOf(client.replicaId, firstEpoch);
    await client.space('s').put('k0', 0);
    const log1 = linkLog();
    links.push(client.connect(recorded(relay.transport(), log1), { antiEntropyInterval: 0 }));
    await until(async () => (await server.space('s').get('k0')) !== undefined, 'the server has k0');
    const hello1 = decodeMessage(log1.in[0]!, { maxValueBytes: 1 << 20 }) as Hello;
    expect(hello1.holds, 'first contact: the server holds none of the client’s epochs').toBe(0);
    expect(epochFrames(log1.out)).toEqual([firstChain]);
    await closeLinks();

    // The client reopens (a new epoch), writes, and connects again: the server holds its first epoch's chain.
    await client.close();
    open.splice(open.indexOf(client), 1);
    client = await replica(storage);
    const second = client.core.epoch;
    expect(second).not.toBe(firstEpoch);
    await client.space('s').put('k1', 1);
    const log2 = linkLog();
    links.push(client.connect(recorded(relay.transport(), log2), { antiEntropyInterval: 0 }));
    await until(async () => (await server.space('s').get('k1')) !== undefined, 'the server has k1');
    const hello2 = decodeMessage(log2.in[0]!, { maxValueBytes: 1 << 20 }) as Hello;
    const sent2 = (decodeMessage(log2.out[0]!, { maxValueBytes: 1 << 20 }) as Hello).history;
    expect(sent2[hello2.holds! - 1]?.[0], 'the server holds the first epoch').toBe(firstEpoch);
    const fork = sent2.at(-1)![1];
    expect(epochFrames(log2.out), 'only the record the server lacks').toEqual([[{ e: second, parent: firstEpoch, fork }]]);
    expect(server.core.epochs.chainOf(client.replicaId, second).map((x) => x.e)).toEqual([...firstChain.map((x) => x.e), second]);
    await closeLinks();

    // Again with nothing new to the server's registry: its hello holds the current epoch, and no chain goes.
    await client.space('s').put('k2', 2);
    const log3 = linkLog();
    links.push(client.connect(recorded(relay.transport(), log3), { antiEntropyInterval: 0 }));
    await until(async () => (await server.space('s').get('k2')) !== undefined, 'the server has k2');
    const hello3 = decodeMessage(log3.in[0]!, { maxValueBytes: 1 << 20 }) as Hello;
    expect(sent2.length).toBe(hello3.holds);
    expect(epochFrames(log3.out)).toEqual([]);
  });

  it('a server lacking the records (one restored from a copy taken before it met the client holds what this fresh one does) is sent them again', async () => {
    const server = await replica();
    server.space('s');
    const relay = memoryRelay(server);
    const client = await farReplica();
    await client.space('s').put('k0', 0);
    links.push(client.connect(relay.transport(), { antiEntropyInterval: 0 }));
    await until(async () => (await server.space('s').get('k0')) !== undefined, 'the server has k0');
    await closeLinks();
    // A server from a copy taken before it met the client: same storage contents but for the client's records.
    const restored = await replica();
    restored.space('s');
    const again = memoryRelay(restored);
    await client.space('s').put('k1', 1);
    const log = linkLog();
    links.push(client.connect(recorded(again.transport(), log), { antiEntropyInterval: 0 }));
    await until(async () => (await restored.space('s').get('k1')) !== undefined, 'the restored server has k1');
    expect((decodeMessage(log.in[0]!, { maxValueBytes: 1 << 20 }) as Hello).holds).toBe(0);
    const chain = client.core.epochs.chainOf(client.replicaId, client.core.epoch);
    expect(epochFrames(log.out)).toEqual([chain]);
    expect(restored.core.epochs.chainOf(client.replicaId, client.core.epoch)).toEqual(chain);
  });
});

describe("a frame's table names an epoch the receiver holds by its label alone", () => {
  it('a relay forwarding a client’s writes sends its chain in the first frame only', async () => {
    const server = await replica();
    server.space('s');
    const relay = memoryRelay(server);
    const storage = memoryStorage();
    for (let i = 0; i < 4; i++) await (await openReplica({ storage: await metAt11(storage), speaks: WITH_11 })).close();
    const a = await replica(storage); // a chain of five records
    expect(a.core.epochs.chainOf(a.replicaId, a.core.epoch)).toHaveLength(5);
    const b = await replica();
    a.space('s');
    b.space('s');
    const learned: number[] = [];
    const learnChain = b.core.epochs.learnChain.bind(b.core.epochs);
    b.core.epochs.learnChain = (r, records) => (r === a.replicaId && learned.push(records.length), learnChain(r, records));
    links.push(a.connect(relay.transport(), { antiEntropyInterval: 0 }), b.connect(relay.transport(), { antiEntropyInterval: 0 }));
    await synced(a, b);
    for (let i = 0; i < 4; i++) {
      await a.space('s').put(`k${i}`, i);
      await until(async () => (await b.space('s').get(`k${i}`)) !== undefined, `b has k${i}`);
    }
    expect(learned, 'a’s records reached b once, in the first frame naming a’s epoch').toEqual([5]);
    expect(b.core.epochs.chainOf(a.replicaId, a.core.epoch)).toHaveLength(5);

  });

  it('a chain goes whole again in the next frame when the frame that carried it did not go (over the frame limit)', async () => {
    const { ToldChains, EpochOut } = await import('../../lib/sync/epoch-wire.js');
    const { Epochs } = await import('../../lib/epoch-points.js');
    const reg = new Epochs();
    reg.learnChain('c', [{ e: 'C1', parent: UNTAGGED, fork: 0 }, { e: 'C2', parent: 'C1', fork: 4 }]);
    const told = new ToldChains('me', true);
    const write = () => {
      const w = new Writer();
      new EpochOut({ id: 'me', chain: [] }, reg, told).ref(w, 'c', 'C2');
      return w.finish();
    };
    const whole = write();
    told.rollback();
    expect(write(), 'rolled back: the chain goes again').toEqual(whole);
    told.commit();
    const alone = write();
    expect(alone.length).toBeLessThan(whole.length);
    expect([...alone.subarray(0, 2)]).toEqual([0, 1]);
    // A receiver decodes the label where its registry holds the chain, and refuses it where it does not.
    const frame = (() => {
      const w = new Writer();
      w.u8(MsgType.Changes);
      writeChanges(w, { type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [{ r: 'c', n: 5, t: 1, c: 0, v: '1', ep: 'C2' }], cc: { c: 5 }, pts: { c: [{ e: 'C2', n: 5 }] } }]] }, undefined, new EpochOut({ id: 'me', chain: [] }, reg, told));
      return w.finish();
    })();
    const link = (held: boolean): EpochLink => ({ me: { id: 'you', chain: [] }, peer: { id: 'me', chain: [] }, reg: () => (held ? reg : new Epochs()), learn: () => undefined });
    const m = decodeMessage(frame, { maxValueBytes: 1 << 20, table: ['me', 'you'], epochs: link(true) });
    expect(m.type === MsgType.Changes && m.entries[0]![1].vs[0]!.ep).toBe('C2');
    expect(() => decodeMessage(frame, { maxValueBytes: 1 << 20, table: ['me', 'you'], epochs: link(false) })).toThrow(/epoch C2 of c named without its chain/);
    // An epoch the sender holds no record of goes as its label with nothing to learn: never named alone after it
    // (restore-once 7017 and restore-replica 7013, jittered, at SIM_SPEAKS=11: a relay forwarding a third replica's
    // dot of an epoch it had no record of named it alone next time, and its clients refused every frame after).
    new EpochOut({ id: 'me', chain: [] }, reg, told).ref(new Writer(), 'c', 'X9');
    told.commit();
    expect(told.has('c', 'X9')).toBe(false);
    // Only our own records where the receiver does not learn others' from us.
    const client = new ToldChains('me', false);
    new EpochOut({ id: 'me', chain: [] }, reg, client).ref(new Writer(), 'c', 'C2');
    client.commit();
    expect(client.has('c', 'C2')).toBe(false);
  });
});

describe('HELLO holds', () => {
  const hello = (versions: number[], holds?: number): Hello => ({
    type: MsgType.Hello,
    versions,
    replicaId: 'abcdefgh',
    epoch: 'E2',
    top: 5,
    token: '',
    expect: '',
    history: [['E1', 0], ['E2', 3]] as EpochEntry[],
    spaces: [],
    ...(holds !== undefined ? { holds } : {}),
  });
  const bytes = (m: Hello) => {
    const w = new Writer();
    writeHello(w, m);
    return w.finish();
  };

  it('is read from a hello listing 11 only; a hello of 10 with a trailing byte stays refused; past the history bound refused', () => {
    const r = new Reader(bytes(hello(WITH_11, 2)));
    expect(readHello(r).holds).toBe(2);
    expect(r.done()).toBe(true);
    // Absent, nothing is written: the hello is the bytes it always was.
    expect(bytes(hello(WITH_11))).toEqual(bytes(hello(WITH_11)).subarray(0, bytes(hello(WITH_11, 1)).length - 1));
    const old = new Reader(bytes(hello([...PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS)], 1)));
    const m = readHello(old);
    expect(m.holds).toBeUndefined();
    expect(old.done(), 'a trailing byte after a hello of 10 is left for the frame check to refuse').toBe(false);
    expect(() => readHello(new Reader(bytes(hello(WITH_11, 9))))).toThrow(/held epoch/);
  });

  it('a client told of a held epoch its hello did not announce refuses the session', async () => {
    const { chainStart } = await import('../../lib/sync/epoch-chain.js');
    const a = await replica();
    const m = hello(WITH_11, 3);
    expect(() => chainStart(a.core, m, [[a.core.epoch, 0]])).toThrow(/held epoch/);
  });
});
