/**
 * S2v — S2 with large values: anti-entropy with no shared cursor at N = 10^5 keys, d = 100 scattered
 * differences, every value 1 KB (its JSON is exactly 1 024 bytes). Target: ≤ 1.2 × the bytes of the
 * differing records — each new value sent once, to the side that lacks it.
 *
 * Set-up and counting as in S2 (bench/lib/antientropy.mjs): two replicas hold the same N records, d keys
 * are rewritten on replica a (new 1 KB values), both re-identify (no cursor valid), connect, and every frame
 * until both report 'synced' is counted with WebSocket framing, hellos apart.
 * "Differing records" (the reference column): for each rewritten key, its key and its new value as JSON
 * text (UTF-8), nothing else — what must reach replica b at the least. Replica b's old values are dominated
 * by a's new ones, so nothing b holds needs to travel; the rows split the bytes by sender to show it.
 * Value text is seeded pseudo-random words (the same every run), so no layer can shrink it much.
 * Env: BENCH_S2V_KEYS, BENCH_S2V_DIFFS. Run alone: `node bench/scenarios/s2v-antientropy-large-values.mjs [--quick]`.
 */
import { pathToFileURL } from 'node:url';
import { reconcile, replicaPair, SPACE } from '../lib/antientropy.mjs';
import { envInt, progress } from '../lib/measure.mjs';
import { rowMaker } from '../lib/row.mjs';
import { prng, scattered } from '../lib/wire.mjs';

export const id = 'S2v';
export const title = 'anti-entropy without a shared cursor, 1 KB values: bytes vs the differing records';
const row = rowMaker(id);

const VALUE_BYTES = 1024;
const WORDS = ['alpha', 'bravo', 'delta', 'echo', 'gamma', 'kilo', 'lima', 'nova', 'omega', 'quartz', 'sigma', 'tango', 'umbra', 'vector', 'whisky', 'zeta'];
const utf8 = (s) => Buffer.byteLength(s);

/** `{ title, done, n, body }` whose JSON is exactly VALUE_BYTES bytes; `version` changes the text. */
export function largeValue(i, version = 0) {
  const head = { title: `item ${i}${version ? ` v${version}` : ''}`, done: i % 2 === 0, n: i + version * 1_000_000_000 };
  const room = VALUE_BYTES - utf8(JSON.stringify({ ...head, body: '' }));
  const random = prng(i * 7919 + version * 104_729 + 1);
  let body = '';
  while (body.length < room) body += WORDS[Math.floor(random() * WORDS.length)] + ' ';
  const value = { ...head, body: body.slice(0, room) };
  if (utf8(JSON.stringify(value)) !== VALUE_BYTES) throw new Error(`S2v: value ${i} is ${utf8(JSON.stringify(value))} bytes of JSON, not ${VALUE_BYTES}`);
  return value;
}

export async function run({ quick = false } = {}) {
  const n = quick ? 5_000 : envInt('BENCH_S2V_KEYS', 100_000);
  const d = Math.min(envInt('BENCH_S2V_DIFFS', 100), Math.floor(n / 4));
  progress(`S2v building two replicas of ${n} keys with ${VALUE_BYTES} B values`);
  const { a, b, keys } = await replicaPair(n, (i) => largeValue(i));
  const picked = scattered(n, d, 77);
  let records = 0;
  for (const i of picked) {
    const v = largeValue(i, 1);
    await a.space(SPACE).put(keys[i], v);
    records += utf8(keys[i]) + utf8(JSON.stringify(v));
  }
  const r = await reconcile(a, b);
  for (const i of picked) {
    const got = await b.space(SPACE).get(keys[i]);
    if (got?.value?.n !== largeValue(i, 1).n) throw new Error(`S2v: ${keys[i]} was not repaired`);
  }
  await a.close();
  await b.close();
  progress(`S2v N=${n} d=${d}: ${r.beyond} B (from a ${r.fromA} B, from b ${r.fromB} B), ${r.roundTrips} RT; differing records ${records} B`);
  const setting = `N=${n} d=${d}, ${VALUE_BYTES} B values`;
  const peers = { 'differing records': records };
  return {
    rows: [
      row({
        case: `${setting}: bytes`,
        metric: 'bytes',
        higherIsBetter: false,
        concord: r.beyond,
        peers,
        note: `both directions, WebSocket framing included, hellos apart (${r.hello} B); differing records = key + new value JSON of each rewritten key; target ≤ 1.2 ×`,
        target: { atMost: 1.2, of: 'differing records' },
      }),
      row({
        case: `${setting}: bytes sent by the side with the new values`,
        metric: 'bytes',
        higherIsBetter: false,
        concord: r.fromA,
        peers,
        note: 'replica a: it must send each new value once',
      }),
      row({
        case: `${setting}: bytes sent by the side that lacks them`,
        metric: 'bytes',
        higherIsBetter: false,
        concord: r.fromB,
        peers: {},
        note: "replica b: its old values are dominated by a's new ones, so none of them needs to travel",
      }),
      row({
        case: `${setting}: round trips`,
        metric: 'round trips',
        higherIsBetter: false,
        concord: r.roundTrips,
        peers: {},
        note: 'beyond the hello exchange; no target of its own (S2: ≤ 2 on the fast path)',
      }),
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  console.table(rows.map(({ peers, note, target, ...r }) => ({ ...r, ...peers })));
}
