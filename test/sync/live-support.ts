/**
 * A writer, a relay and a client in memory, the relay's frames to the client held by the test when it wants them
 * (live-delivery.test.ts, live-at-once.test.ts: what a client does with a LIVE frame, and when).
 */
import { memoryStorage, openReplica, type ChangeEvent, type Connection, type ConnectionHandlers, type Replica, type StorageAdapter, type Transport } from '../../lib/index.js';
import { memoryRelay } from '../support/tab-group.js';
import { synced, until } from './support.js';

export type Frame = Parameters<ConnectionHandlers['onMessage']>[0];

/**
 * A transport whose frames to the client are held while `hold` is on, to be handed over by the test, in order; `drop`
 * closes its connection (as a peer or the network would), `opens` counts its connections.
 */
export function gated(inner: Transport) {
  const held: Frame[] = [];
  let deliver!: (f: Frame) => void;
  let conn: Connection | undefined;
  let opens = 0;
  const gate = {
    hold: false,
    held,
    deliver: (f: Frame) => deliver(f),
    /** Hands every held frame over, in one call. */
    flush: () => {
      for (const f of held.splice(0)) deliver(f);
    },
    /** Hands the first held frame over. */
    next: () => deliver(held.shift()!),
    /** Closes the connection; what it held is dropped with it (the next connection brings it again). */
    drop: () => {
      held.length = 0;
      conn?.close(1001, 'dropped by the test');
    },
    get opens() {
      return opens;
    },
  };
  const transport: Transport = {
    ...inner,
    async open(handlers) {
      opens++;
      deliver = (f) => handlers.onMessage(f);
      conn = await inner.open({ ...handlers, onMessage: (f) => (gate.hold ? void held.push(f) : handlers.onMessage(f)) });
      return conn;
    },
  };
  return { gate, transport };
}

/**
 * The three replicas (pushed to `open` for closing), synced, the client's change events in `events` (empty), after a
 * first write: at 11 the writer's epoch record goes before its first tagged dot (an EPOCHS frame the relay forwards
 * beside the LIVE frame; the client stores it), once a link — what the tests look at is every later delivery.
 */
export async function relayedClient(open: Replica[], options: { speaks?: readonly number[]; storage?: StorageAdapter } = {}) {
  const speaks = options.speaks ? { speaks: options.speaks } : {};
  const relay = await openReplica({ storage: memoryStorage(), ...speaks });
  const writer = await openReplica({ storage: memoryStorage(), ...speaks });
  const client = await openReplica({ storage: options.storage ?? memoryStorage(), ...speaks });
  open.push(relay, writer, client);
  const mem = memoryRelay(relay);
  const { gate, transport } = gated(mem.transport());
  const events: ChangeEvent[] = [];
  client.space('s').subscribe('*', (e) => events.push(e));
  writer.space('s');
  writer.connect(mem.transport());
  const link = client.connect(transport);
  await synced(writer, client);
  await (await writer.space('s').put('first', 0)).synced;
  await until(async () => (await client.space('s').get('first')) !== undefined, 'the client has the first write');
  events.length = 0;
  return { relay, writer, client, gate, events, mem, link };
}

/** Memory storage whose next transaction, once armed, cannot commit at once and waits for `answer()` (which also disarms). */
export function lateOnce(): { storage: StorageAdapter; arm(): void; answer(): void } {
  const inner = memoryStorage();
  let armed = false;
  let answer: () => void = () => {};
  const storage = new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'transactNow' && armed) return () => undefined;
      if (prop === 'transact' && armed) {
        return (fn: Parameters<StorageAdapter['transact']>[0]) => {
          armed = false;
          return new Promise<void>((resolve) => (answer = resolve)).then(() => target.transact(fn));
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
  return { storage, arm: () => (armed = true), answer: () => ((armed = false), answer()) };
}

/** The writer writes each key in turn; the relay's frames to the client are held until all went. */
export async function heldWrites(s: Awaited<ReturnType<typeof relayedClient>>, keys: string[]): Promise<void> {
  s.gate.hold = true;
  for (const k of keys) await s.writer.space('s').put(k, { k });
  await until(async () => (await s.relay.space('s').get(keys.at(-1)!)) !== undefined, 'the relay has the writes');
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // its frames to the client are held
  s.gate.hold = false;
}
