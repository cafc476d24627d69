#!/usr/bin/env node
/**
 * S5 — durable writes to IndexedDB in headless Chromium, Concord (indexedDBStorage, strict durability,
 * one key per write, many in flight: group commit) vs Yjs + y-indexeddb (one Y.Map set per write, until
 * persisted), in the same page. Target: ≥ 10 × y-indexeddb's writes/s.
 * Also the IndexedDB half of S6: reopen 10 000 and 100 000 keys, time until a `get` answers, vs
 * y-indexeddb reopening the same data. Target: ≤ ½ of Yjs's time.
 *
 * Uses the system Chromium (/usr/bin/chromium, or CHROMIUM_PATH); never downloads a browser.
 * The page (bench/browser/idb-page.ts) is bundled with esbuild and served on loopback.
 * Run alone: `node bench/scenarios/s5-indexeddb-writes.mjs [--quick]`.
 */
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { rowMaker } from '../lib/row.mjs';

export const id = 'S5';
export const title = 'Durable writes to IndexedDB in headless Chromium (and S6: reopen from IndexedDB)';
const row = rowMaker(id);

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'];

async function bundle() {
  const out = await build({
    entryPoints: [fileURLToPath(new URL('../browser/idb-page.ts', import.meta.url))],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    write: false,
    logLevel: 'silent',
  });
  return out.outputFiles[0].text;
}

async function serve(js) {
  const html = '<!doctype html><meta charset="utf-8"><title>S5</title><script type="module" src="/page.js"></script>';
  const server = createServer((req, res) => {
    if (req.url === '/') res.writeHead(200, { 'content-type': 'text/html' }).end(html);
    else if (req.url === '/page.js') res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(404).end();
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://localhost:${server.address().port}/`, close: () => new Promise((r) => (server.closeAllConnections(), server.close(r))) };
}

const perSecond = (n, ms) => Math.round((n * 1000) / ms);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Headless Chromium on the bench page (bench/browser/idb-page.ts), `window.bench` ready; `close` ends both. */
export async function openBenchPage() {
  if (!existsSync(CHROMIUM)) throw new Error(`S5 needs Chromium at ${CHROMIUM} (apt-get install -y chromium), or set CHROMIUM_PATH`);
  const [js, browser] = await Promise.all([bundle(), chromium.launch({ executablePath: CHROMIUM, args: ARGS })]);
  const server = await serve(js);
  const close = async () => {
    await browser.close();
    await server.close();
  };
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(600_000);
    await page.goto(server.url);
    await page.waitForFunction(() => typeof globalThis.bench === 'object');
    return { page, close };
  } catch (e) {
    await close();
    throw e;
  }
}

export async function run({ quick = false } = {}) {
  const { page, close } = await openBenchPage();
  try {
    const ev = (fn, arg) => page.evaluate(fn, arg);
    const rounds = quick ? 1 : 3;

    // S5: alternate the two libraries, several rounds, keep the median of each.
    const nConcord = quick ? 2_000 : 20_000;
    const nYjs = quick ? 500 : 2_000;
    const nSeq = quick ? 100 : 300;
    const c = [], y = [], s = [];
    for (let r = 0; r < rounds; r++) {
      c.push(perSecond(nConcord, await ev((n) => bench.concordWrites(n), nConcord)));
      y.push(perSecond(nYjs, await ev((n) => bench.yjsWrites(n), nYjs)));
      s.push(perSecond(nSeq, await ev((n) => bench.concordSequential(n), nSeq)));
    }
    const concordWps = median(c);
    const yjsWps = median(y);
    const rows = [
      row({
        case: `S5 durable writes, one key per write, ${nConcord.toLocaleString('en')} in flight (Yjs: ${nYjs.toLocaleString('en')} sets)`,
        metric: 'writes/s',
        higherIsBetter: true,
        concord: concordWps,
        peers: { yjs: yjsWps },
        note: `ratio ${(concordWps / yjsWps).toFixed(1)}× (target ≥ 10×); strict durability, group commit; medians of ${rounds}`,
        target: { atLeast: 10, of: 'yjs' },
      }),
      row({
        case: `S5 durable writes, ${nSeq} sequential awaited puts (one commit each)`,
        metric: 'writes/s',
        higherIsBetter: true,
        concord: median(s),
        peers: {},
        note: 'each put awaited before the next: one strict IndexedDB commit per write',
      }),
    ];

    // S6 (IndexedDB half): reopen N keys; time until a get answers.
    for (const n of quick ? [10_000] : [10_000, 100_000]) {
      await ev((k) => bench.concordPrepare(k), n);
      await ev((k) => bench.yjsPrepare(k), n);
      const cg = [], ci = [], yg = [];
      for (let r = 0; r < rounds; r++) {
        const o = await ev((k) => bench.concordReopen(k), n);
        cg.push(o.get);
        ci.push(o.index);
        yg.push(await ev((k) => bench.yjsReopen(k), n));
      }
      const round1 = (x) => Math.round(x * 10) / 10;
      rows.push(row({
        case: `S6 reopen ${n.toLocaleString('en')} keys from IndexedDB: until a get answers`,
        metric: 'ms',
        higherIsBetter: false,
        concord: round1(median(cg)),
        peers: { yjs: round1(median(yg)) },
        note: `Concord reads no values to open. Reading the whole index too (key, seq, hash for every key: what building a Merkle tree needs): ${round1(median(ci))} ms. Target ≤ ½ of Yjs`,
        target: { atMost: 0.5, of: 'yjs' },
      }));
    }
    return { rows };
  } finally {
    await close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  for (const r of rows) {
    console.log(`${r.case}\n  concord ${r.concord} ${r.metric} | yjs ${r.peers.yjs ?? '—'} ${r.metric}${r.note ? `\n  ${r.note}` : ''}`);
  }
}
