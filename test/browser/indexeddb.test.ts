// indexedDBStorage in real headless Chromium: the storage contract on real IndexedDB, two tabs sharing one
// replica, leadership handed over when the leader tab closes, and data kept across a reload.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Harness } from './page/entry.js';
import { launchChromium, skipBrowser } from './support/chromium.js';
import { bundlePage, servePage, type PageServer } from './support/serve.js';

declare const harness: Harness;

describe.skipIf(skipBrowser)('indexedDBStorage in headless Chromium', () => {
  let browser: Browser | undefined;
  let context: BrowserContext;
  let server: PageServer | undefined;

  beforeAll(async () => {
    const [bundle, b] = await Promise.all([bundlePage(), launchChromium()]);
    browser = b;
    server = await servePage(bundle);
    context = await browser.newContext();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function tab(): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error('page error:', e));
    await page.goto(server!.url);
    await page.waitForFunction(() => typeof harness === 'object');
    return page;
  }

  it('passes the storage contract on real IndexedDB', async () => {
    const page = await tab();
    const results = await page.evaluate(() => harness.runContract());
    expect(results.filter((r) => !r.ok)).toEqual([]);
    expect(results.length).toBeGreaterThanOrEqual(12);
    await page.close();
  });

  it('two tabs write concurrently to one replica: no write lost, no dot minted twice, subscribers see the other tab', async () => {
    const [a, b] = await Promise.all([tab(), tab()]);
    const ida = await a.evaluate(() => harness.open('two-tabs'));
    const idb = await b.evaluate(() => harness.open('two-tabs'));
    expect(idb.replicaId).toBe(ida.replicaId);
    expect(typeof ida.persisted).toBe('boolean');
    await a.evaluate(() => harness.subscribe('sp'));

    const N = 200;
    await Promise.all([
      a.evaluate((n) => Promise.all([harness.writeMany('sp', 'a', 0, n), harness.writeMany('sp', 'shared', 0, 50)]), N),
      b.evaluate((n) => Promise.all([harness.writeMany('sp', 'b', 0, n), harness.writeMany('sp', 'shared', 0, 50)]), N),
    ]);

    for (const page of [a, b]) {
      const rows = await page.evaluate(() => harness.dump('sp'));
      expect(rows.length).toBe(2 * N + 50);
      for (const row of rows) {
        const i = Number(row.key.replace(/^\D+/, ''));
        expect(row.value).toEqual({ title: `item ${i}`, done: i % 2 === 0, n: i });
      }
      const dots = rows.flatMap((r) => r.dots);
      expect(new Set(dots).size).toBe(dots.length);
      expect(dots.every((d) => d.startsWith(`${ida.replicaId}:`))).toBe(true);
      // Every commit took the next counter: 2N + 100 puts, counters 1..2N+100, none reused.
      expect(await page.evaluate(() => harness.seq())).toBe(2 * N + 100);
    }

    // Tab A's subscriber hears every write tab B made (hints are asynchronous: wait, bounded).
    await a
      .waitForFunction((n) => harness.seen().filter((e) => e.key.startsWith('b')).length >= n, N, { timeout: 20_000 })
      .catch(() => {});
    const fromB = (await a.evaluate(() => harness.seen())).filter((e) => e.key.startsWith('b')).map((e) => e.key);
    expect(new Set(fromB)).toEqual(new Set(Array.from({ length: N }, (_, i) => `b${i}`)));
    await Promise.all([a.evaluate(() => harness.close()), b.evaluate(() => harness.close())]);
    await Promise.all([a.close(), b.close()]);
  });

  it('closing the leader tab hands the network role to another tab', async () => {
    const first = await tab();
    await first.evaluate(() => harness.lead('leader-db'));
    await first.waitForFunction(() => harness.isLeader(), undefined, { timeout: 10_000 });
    const second = await tab();
    await second.evaluate(() => harness.lead('leader-db'));
    expect(await second.evaluate(() => harness.isLeader())).toBe(false);
    expect(await first.evaluate(() => harness.isLeader())).toBe(true);
    await first.close();
    await second.waitForFunction(() => harness.isLeader(), undefined, { timeout: 10_000 }).catch(() => {});
    expect(await second.evaluate(() => harness.isLeader())).toBe(true);
    await second.close();
  });

  it('a tab opening while another has the replica open continues its log epoch; an open after all closed starts one', async () => {
    const a = await tab();
    const first = await a.evaluate(() => harness.open('epoch-db').then(() => harness.epochs()));
    const b = await tab();
    const second = await b.evaluate(() => harness.open('epoch-db').then(() => harness.epochs()));
    // B joined a live instance: no new epoch, so nothing A's session announced is contradicted by B's open.
    expect(second).toEqual(first);
    await Promise.all([a.evaluate(() => harness.close()), b.evaluate(() => harness.close())]);
    await Promise.all([a.close(), b.close()]);
    const c = await tab();
    const third = await c.evaluate(() => harness.open('epoch-db').then(() => harness.epochs()));
    expect(third.slice(0, -1)).toEqual(first);
    expect(third).toHaveLength(first.length + 1);
    await c.evaluate(() => harness.close());
    await c.close();
  });

  it('a reload keeps the data and the replica identity', async () => {
    const page = await tab();
    const before = await page.evaluate(() => harness.open('reload-db'));
    await page.evaluate(() => harness.writeMany('sp', 'k', 0, 100));
    await page.reload();
    await page.waitForFunction(() => typeof harness === 'object');
    const after = await page.evaluate(() => harness.open('reload-db'));
    expect(after.replicaId).toBe(before.replicaId);
    const rows = await page.evaluate(() => harness.dump('sp'));
    expect(rows.length).toBe(100);
    expect(rows.find((r) => r.key === 'k42')?.value).toEqual({ title: 'item 42', done: true, n: 42 });
    expect(await page.evaluate(() => harness.seq())).toBe(100);
    await page.close();
  });

  it('a database deleted under an open replica (another tab, or the browser clearing site data): writes fail, the replica opened again is a new one', async () => {
    for (const how of ['another tab', 'site data cleared'] as const) {
      const db = `deleted-db-${how === 'another tab' ? 'tab' : 'clear'}`;
      const a = await tab();
      const before = await a.evaluate((name) => harness.open(name), db);
      expect(await a.evaluate(() => harness.tryPut('sp', 'k1', 1))).toMatchObject({ ok: true });
      if (how === 'another tab') {
        const b = await tab();
        expect(await b.evaluate((name) => harness.deleteDb(name), db)).toBe('deleted');
        await b.close();
      } else {
        const cdp = await context.newCDPSession(a);
        await cdp.send('Storage.clearDataForOrigin', { origin: new URL(server!.url).origin, storageTypes: 'indexeddb' });
        await cdp.detach();
      }
      // Before: the put was acknowledged with seq 1 again, a dot of the same replicaId minted a second time.
      const after = await a.evaluate(() => harness.tryPut('sp', 'k2', 2));
      expect(after, how).toMatchObject({ ok: false, code: 'STORAGE_ERROR' });
      await a.evaluate(() => harness.close().catch(() => {}));
      const again = await a.evaluate((name) => harness.open(name), db);
      expect(again.replicaId, how).not.toBe(before.replicaId);
      expect(await a.evaluate(() => harness.dump('sp')), how).toEqual([]);
      await a.evaluate(() => harness.close());
      await a.close();
    }
  }, 60_000);
});
