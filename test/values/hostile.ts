/**
 * Hostile values for receipt tests: encodings no local `put` produces, each of which once broke `get`/`scan` for
 * every reader after being stored, and a raw peer that sends them in a CHANGES frame after a valid hello.
 */
import type { KeyState } from '../../lib/dvv.js';
import { randomId } from '../../lib/ids.js';
import { pairTransports, type Replica } from '../../lib/index.js';
import { decodeMessage, encodeMessage, MsgType, type SyncItem } from '../../lib/sync/messages.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';
import type { Connection } from '../../lib/transport.js';
import { item } from '../relay/raw.js';

const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);

export const HOSTILE_VALUES: Array<[string, string | Uint8Array]> = [
  ['rich: not JSON (SyntaxError)', '~{"json":'],
  ['rich: __proto__ key', '~{"json":{"__proto__":{"polluted":1}},"meta":{"values":{"__proto__.polluted":["Date"]}}}'],
  ['rich: __proto__ in the value', '~{"json":{"a":{"__proto__":{"x":1}}}}'],
  ['rich: nesting that overflows the stack', '~{"json":' + deep(20_000) + '}'],
  ['rich: unknown type tag', '~{"json":{"a":1},"meta":{"values":{"a":["Nope"]}}}'],
  ['rich: a bigint tag on a non-number', '~{"json":{"a":"x"},"meta":{"values":{"a":"bigint"}}}'],
  ['rich: a class tag', '~{"json":{"a":{}},"meta":{"values":{"a":[["class","Foo"]]}}}'],
  ['rich: not a superjson document', '~5'],
  ['bytes: unknown kind', Uint8Array.of(7, 1, 2)],
  ['typed: bad type name', Uint8Array.of(1, 2, 0x41, 0x42, 1)],
  ['typed: header past the end', Uint8Array.of(1, 30, 0x61)],
  ['typed: a counter that is not one', typed('counter', '{"p":1,"n":{}}')],
  ['typed: a counter with a negative count', typed('counter', '{"p":{"a":-5},"n":{}}')],
  ['typed: an add-wins set with a rich item that does not parse', typed('add-wins', '~{"json":')],
  ['typed: an add-wins entry outside its context', typed('add-wins', '{"e":[["x","r",9]],"cc":{"r":1}}')],
];

function typed(name: string, payload: string): Uint8Array {
  const p = new TextEncoder().encode(payload);
  return Uint8Array.of(1, name.length, ...[...name].map((c) => c.charCodeAt(0)), ...p);
}

export function state(v: string | Uint8Array, r = randomId(), n = 1): KeyState {
  return { vs: [{ r, n, t: Date.now(), c: 0, v }], cc: { [r]: n } };
}

export interface RawSide {
  readonly id: string;
  /** The peer's replica id, once its hello arrived. */
  peerId(): Promise<string>;
  hello(spaces: SyncItem[], token?: string): Uint8Array;
  changes(space: string, entries: Array<readonly [string, KeyState]>, peer: string): Uint8Array;
}

/** Frames of a raw peer; `received` yields the frames it got (to read the other side's hello). */
export function rawSide(received: () => Uint8Array[]): RawSide {
  const id = randomId();
  return {
    id,
    async peerId() {
      for (let i = 0; i < 400; i++) {
        const first = received()[0];
        if (first) {
          const m = decodeMessage(first, { maxValueBytes: 1 << 20 });
          if (m.type === MsgType.Hello) return m.replicaId;
        }
        await new Promise((r) => setTimeout(r, 5));
      }
      throw new Error('no hello from the peer');
    },
    hello: (spaces, token = '') => {
      const epoch = randomId();
      return encodeMessage({ type: MsgType.Hello, versions: [...RAW_VERSIONS], replicaId: id, epoch, top: 0, token, expect: '', history: [[epoch, 0]], spaces });
    },
    changes: (space, entries, peer) => encodeMessage({ type: MsgType.Changes, space, upTo: 0, entries: entries.map(([k, s]) => [k, s] as const) }, [id, peer]),
  };
}

/** A raw peer connected to a replica: its side of the connection, and what it received. */
export interface RawConnection {
  conn: Connection;
  raw: RawSide;
  /** The replica's id, from its hello. */
  peer: string;
  got: Uint8Array[];
  /** How the replica closed the connection, once it did. */
  closed(): { code: number; reason: string } | undefined;
}

/**
 * Connects `replica` over pairTransports (no anti-entropy timer, no quick reconnect) to a raw peer whose hello
 * carries an item for `space`; resolves once the replica's hello arrived.
 */
export async function connectRaw(replica: Replica, space = 's'): Promise<RawConnection> {
  const [ta, tb] = pairTransports();
  const got: Uint8Array[] = [];
  let closed: { code: number; reason: string } | undefined;
  const raw = rawSide(() => got);
  const connP = tb.open({ onMessage: (f) => void got.push(f as Uint8Array), onClose: (code, reason) => void (closed = { code, reason }) });
  replica.connect(ta, { antiEntropyInterval: 0, backoff: { base: 10_000, max: 10_000 } });
  const conn = await connP;
  conn.send(raw.hello([item(space)]));
  const peer = await raw.peerId();
  return { conn, raw, peer, got, closed: () => closed };
}
