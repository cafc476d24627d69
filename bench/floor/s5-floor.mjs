/**
 * S5's floor: what IndexedDB itself costs per durable write in headless Chromium, beside Concord and y-indexeddb in
 * the same page (bench/browser/idb-page.ts `idbFloor`): 20 000 writes of a record-sized object, strict durability,
 * 1 000 writes per transaction (Concord's group size), all transactions issued at once, with each write costing
 * 1, 2 or 3 requests (a put; a put and its log entry's put; a read, then both puts: Concord's shape), or the whole
 * transaction as one put (an append-only batch layout). Medians of 3, alternating.
 * Run: `node bench/floor/s5-floor.mjs` (after `npm run build`; needs /usr/bin/chromium or CHROMIUM_PATH).
 */
import { openBenchPage } from '../scenarios/s5-indexeddb-writes.mjs';

const N = 20_000;
const PER_TX = 1_000;
const ROUNDS = 3;
const { page, close } = await openBenchPage();
try {
  const shapes = ['put', 'put-text', 'put+log', 'put+log-text', 'get+put+log', 'batch'];
  const results = Object.fromEntries([...shapes, 'concord', 'y-indexeddb'].map((k) => [k, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const shape of shapes) results[shape].push((N * 1000) / (await page.evaluate(([n, per, sh]) => bench.idbFloor(n, per, sh), [N, PER_TX, shape])));
    results.concord.push((N * 1000) / (await page.evaluate((n) => bench.concordWrites(n), N)));
    results['y-indexeddb'].push((2000 * 1000) / (await page.evaluate((n) => bench.yjsWrites(n), 2000)));
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const y = median(results['y-indexeddb']);
  for (const [k, xs] of Object.entries(results)) {
    const m = median(xs);
    console.log(`${k.padEnd(14)} ${String(Math.round(m)).padStart(9)} writes/s   ${(m / y).toFixed(1).padStart(6)}× y-indexeddb`);
  }
} finally {
  await close();
}
