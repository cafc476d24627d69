/**
 * Review doc49: a working copy following a chain of deltas (lib/working-copies.ts follow) whose step fails says
 * nothing there, and must not: the copies are a per-process cache, so what a replica stores may not depend on
 * whether it held one (a receipt refused where a copy was held would be accepted on the retry, the copy dropped by the
 * failure, and stored as it is by every replica holding none). The app is told where the version is read: a step
 * throws where `apply` throws (typed.ts), so the read fails the same way, with or without a copy, and reports it
 * ('error': the value does not decode). These pin that, on the writer (no copy) and on a receiver holding one.
 *
 * The type: a log of bytes, a delta appends its bytes; a delta starting 0xFF does not apply (its `apply` and `step`
 * throw) — and, as a hostile peer's delta that its check misses, passes `checkDelta`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { memoryStorage, type Replica } from '../../lib/index.js';
import { openReplica } from '../../lib/replica.js';
import { registerValueType, typedBytes, TypedBytes, type ValueType, type WorkingCopies } from '../../lib/typed.js';
import { dropWorkingCopies, keptCopies, MIN_BYTES, setWorkingCopyFloor } from '../../lib/working-copies.js';
import { synced, until } from '../sync/support.js';
import { paired } from './paired.js';

const NAME = 'poison-log';
const POISON = 0xff;

const append = (base: Uint8Array, delta: Uint8Array): Uint8Array => {
  if (delta[0] === POISON) throw new Error('a poisoned delta');
  const out = new Uint8Array(base.length + delta.length);
  out.set(base);
  out.set(delta, base.length);
  return out;
};

const logType: ValueType<TypedBytes> = {
  name: NAME,
  is: (v): v is TypedBytes => v instanceof TypedBytes && v.typeName === NAME,
  encode: (v) => v,
  decode: (p) => typedBytes(NAME, p),
  merge: (vs) => vs.reduce((a, b) => (a.length >= b.length ? a : b)),
  apply: (base, delta) => typedBytes(NAME, append(base, delta)),
  checkDelta: () => undefined, // misses the poison, as a check a hostile delta slips past
  applySize: (size, delta) => size + delta.length,
  working: {
    open: (payload) => ({ bytes: Uint8Array.from(payload) }),
    step: (copy, delta) => void (copy.bytes = append(copy.bytes, delta)),
    encode: (copy) => copy.bytes,
  } satisfies WorkingCopies<{ bytes: Uint8Array }>,
};
registerValueType(logType);

const { undo, connect } = paired();
afterEach(() => {
  setWorkingCopyFloor(MIN_BYTES);
  dropWorkingCopies();
});

async function open(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage() });
  undo.push(() => r.close());
  r.space('s');
  return r;
}

const bytesOf = async (r: Replica) => Array.from(((await r.space('s').get('k'))?.value as Uint8Array | undefined) ?? []);
const delta = (...b: number[]) => (r: Replica) => r.space('s').writeWith('k', () => ({ delta: Uint8Array.from(b), type: NAME }));

describe('a working copy whose step fails while following a chain', () => {
  it('the receiver holding a copy stores what the writer (holding none) stored; both are told when they read it', async () => {
    setWorkingCopyFloor(0);
    const a = await open();
    const b = await open();
    const told = { a: [] as unknown[], b: [] as unknown[] };
    a.on('error', (e) => told.a.push(e));
    b.on('error', (e) => told.b.push(e));
    connect(a, b);
    await a.space('s').put('k', typedBytes(NAME, Uint8Array.of(1, 2)));
    await synced(a, b);
    await delta(3)(a); // sent as a delta: b holds its base
    await synced(a, b);
    // The copies are per process: a's (made if it materialized its version to send it) dropped, it stores the next
    // delta unchecked; b reads, and keeps a copy standing for its version, which the next delta steps.
    dropWorkingCopies();
    expect(await bytesOf(b)).toEqual([1, 2, 3]);
    expect(keptCopies()).toBe(1);
    const statuses: string[] = [];
    b.on('status', (st) => statuses.push(st));
    await delta(POISON, 4)(a);
    await synced(a, b);
    expect(statuses, "b's link kept (no refusal, no reconnection)").not.toContain('connecting');
    expect(keptCopies()).toBe(0); // b's copy failed the step and was dropped
    const seqs = async (r: Replica) => (await r.core.storage.get('s', 'k'))?.vs.map((v) => `${v.r}:${v.n}`);
    expect(await seqs(b)).toEqual(await seqs(a));
    for (const [name, r] of [['a', a], ['b', b]] as const) {
      expect(await r.space('s').get('k'), `${name}'s read`).toBeUndefined();
      await until(() => told[name].length > 0, `${name} told`, 2000);
      expect(String(told[name][0]), name).toMatch(/does not decode/);
    }
  });
});
