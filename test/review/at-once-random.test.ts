/**
 * Review rev46c of s7c, randomized: a client's LIVE frames held and handed over in random batches (one call each),
 * its storage sometimes made to wait on a join (lateOnce), its listeners writing, throwing, handing the next held frame
 * over from inside a join (a transport answering within the call), or dropping the connection. Whatever the mix, the
 * writer, relay and client end with the same data and nothing but the listeners' own throws is reported. Each run
 * prints its seed on failure; SEED=<n> replays one (`npx vitest run test/review/at-once-random.test.ts`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Replica } from '../../lib/index.js';
import { lateOnce, relayedClient } from '../sync/live-support.js';
import { dump, synced, until } from '../sync/support.js';
import { prng, testSeed } from '../support/replicas.js';

const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close().catch(() => {});
});

const RUNS = process.env.SEED ? 1 : 6;
const ROUNDS = 8;

async function run(seed: number): Promise<void> {
  const rand = prng(seed);
  const pick = (n: number) => Math.floor(rand() * n);
  const late = lateOnce();
  const s = await relayedClient(open, { storage: late.storage });
  const errors: unknown[] = [];
  s.client.on('error', (e) => errors.push(e));
  let action = 0; // what the listener does on its next remote change
  let thrown = 0;
  s.client.space('s').subscribe('w/*', (e) => {
    if (e.origin !== 'remote') return;
    const a = action;
    action = 0;
    if (a === 1) void s.client.space('s').put(`echo/${e.key}`, e.value);
    if (a === 2 && s.gate.held.length > 0) s.gate.next();
    if (a === 3) s.gate.drop();
    if (a === 4) {
      thrown++;
      throw new Error('listener broke');
    }
  });
  let n = 0;
  for (let round = 0; round < ROUNDS; round++) {
    s.gate.hold = true;
    const count = 1 + pick(6);
    let last = '';
    for (let i = 0; i < count; i++) await s.writer.space('s').put((last = `w/${pick(8)}`), n++);
    const value = n - 1;
    await until(async () => (await s.relay.space('s').get(last))?.value === value, `seed ${seed}: the relay has the writes`);
    for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    s.gate.hold = false;
    action = pick(5);
    if (pick(3) === 0) late.arm();
    while (s.gate.held.length > 0) {
      const batch = 1 + pick(s.gate.held.length);
      for (let i = 0; i < batch && s.gate.held.length > 0; i++) s.gate.next();
      if (pick(2) === 0) await new Promise((r) => setImmediate(r));
    }
    late.answer();
    if (pick(2) === 0) await new Promise((r) => setTimeout(r, pick(20)));
  }
  late.answer();
  await until(async () => JSON.stringify(await dump(s.writer, 's')) === JSON.stringify(await dump(s.client, 's')), `seed ${seed}: the same data`, 20_000);
  await synced(s.writer, s.client);
  expect(await dump(s.relay, 's'), `seed ${seed}`).toEqual(await dump(s.client, 's'));
  expect(errors.length, `seed ${seed}: errors ${errors.map((e) => (e as Error).message).join('; ')}`).toBe(thrown);
}

describe('frames at once, randomized batches, waits and listeners', () => {
  for (let i = 0; i < RUNS; i++) {
    const seed = i === 0 && process.env.SEED ? Number(process.env.SEED) : testSeed();
    it(`seed ${seed}`, () => run(seed), 60_000);
  }
});
