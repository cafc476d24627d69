// Every tab a full citizen, in real headless Chromium (Web Locks, BroadcastChannel, IndexedDB), with a relay on
// loopback: two tabs of one device both call connect(); exactly one WebSocket reaches the relay; both reach
// 'synced', see each other's and a remote device's presence, and a write in the tab without the socket reports
// synced there. The role moves when the leader tab closes, freezes, or stalls. `pending` survives a reload, and a
// link waiting out its backoff reconnects at once on the browser's `online` event.
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { freePort } from '../readme/blocks.js';
import type { Tabs } from './tabs-page/entry.js';
import { launchChromium, skipBrowser } from './support/chromium.js';
import { servePage, type PageServer } from './support/serve.js';

declare const tabs: Tabs;
const WAIT = 20_000;

/** WebSocket connections the relay accepted so far (its Prometheus counter). */
async function accepted(relay: Relay): Promise<number> {
  const m = /^concord_relay_connections_total(?:\{[^}]*\})? (\d+)/m.exec(await relay.metrics());
  return Number(m?.[1] ?? 0);
}

describe.skipIf(skipBrowser)('tabs in headless Chromium', { timeout: 90_000 }, () => {
  let browser: Browser | undefined;
  let server: PageServer | undefined;
  let context: BrowserContext;
  const errors: string[] = [];
  let n = 0;

  beforeAll(async () => {
    const bundle = build({
      entryPoints: [fileURLToPath(new URL('./tabs-page/entry.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      logLevel: 'silent',
    });
    const [b, result] = await Promise.all([launchChromium(), bundle]);
    browser = b;
    server = await servePage(result.outputFiles[0]!.text);
    context = await browser.newContext();
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  async function tab(): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    await page.goto(server!.url);
    await page.waitForFunction(() => typeof tabs === 'object');
    return page;
  }

  const status = (page: Page, want: string) => page.waitForFunction((w) => tabs.status() === w, want, { timeout: WAIT });

  async function relayAndRemote(): Promise<{ relay: Relay; url: string; remote: Replica }> {
    const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
    const url = `ws://127.0.0.1:${relay.port}`;
    const remote = await openReplica({ storage: memoryStorage() });
    remote.space('room');
    remote.connect(webSocketTransport(url));
    return { relay, url, remote };
  }

  it('two tabs both connect: one socket reaches the relay, both reach synced, see each other and a remote device, and a write in the other tab reports synced there', async () => {
    const { relay, url, remote } = await relayAndRemote();
    const db = `tabs-${++n}`;
    const [a, b] = [await tab(), await tab()];
    await a.evaluate((d) => tabs.open(d), db);
    await b.evaluate((d) => tabs.open(d), db);
    await a.evaluate((u) => tabs.connect(u), url);
    await b.evaluate((u) => tabs.connect(u), url);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    await expect.poll(() => remote.status, { timeout: WAIT }).toBe('synced');
    expect(relay.connections).toBe(2); // the remote device, and one socket for both tabs
    expect(await accepted(relay)).toBe(2);
    const leaders = await Promise.all([a.evaluate(() => tabs.isLeader()), b.evaluate(() => tabs.isLeader())]);
    expect(leaders.filter(Boolean)).toHaveLength(1);
    const [leader, other] = leaders[0] ? [a, b] : [b, a];

    // Presence: each tab is its own member; the remote device sees both, both see it.
    await a.evaluate(() => tabs.present('tab a'));
    await b.evaluate(() => tabs.present('tab b'));
    remote.space('room').presence.set({ name: 'remote' });
    const all = 'remote,tab a,tab b';
    await a.waitForFunction((w) => tabs.members() === w, all, { timeout: WAIT });
    await b.waitForFunction((w) => tabs.members() === w, all, { timeout: WAIT });
    const remoteNames = () => remote.space('room').presence.list().map((m) => (m.meta as { name: string }).name).sort().join(',');
    await expect.poll(remoteNames, { timeout: WAIT }).toBe(all);

    // A write in the tab without the socket: it reports synced in that tab, and the remote device gets it.
    await other.evaluate(() => tabs.put('from-other-tab', 42));
    expect(await other.evaluate(() => tabs.synced('from-other-tab'))).toBe(true);
    expect(await other.evaluate(() => tabs.durability('from-other-tab'))).toBe('synced');
    await expect.poll(async () => (await remote.space('room').get('from-other-tab'))?.value, { timeout: WAIT }).toBe(42);
    await other.waitForFunction(() => tabs.pending() === 0, undefined, { timeout: WAIT });
    expect(await other.evaluate(() => tabs.whenSynced())).toBe('resolved');
    // A remote write reaches both tabs.
    await remote.space('room').put('from-remote', 7);
    for (const page of [leader, other]) await page.waitForFunction(async () => (await tabs.get('from-remote')) === 7, undefined, { timeout: WAIT });
    expect(await accepted(relay)).toBe(2);

    // Closing the leader tab hands the role over: the other tab reconnects and is synced again.
    await leader.close();
    await other.waitForFunction(() => tabs.isLeader(), undefined, { timeout: WAIT });
    await status(other, 'synced');
    await expect.poll(() => relay.connections, { timeout: WAIT }).toBe(2);
    expect(await accepted(relay)).toBe(3);
    await other.evaluate(() => tabs.put('after-handover', 1));
    expect(await other.evaluate(() => tabs.synced('after-handover'))).toBe(true);
    await expect.poll(async () => (await remote.space('room').get('after-handover'))?.value, { timeout: WAIT }).toBe(1);
    // The closed tab left the remote device's view (it said so while unloading; no 15 s presence ttl to wait out).
    await expect.poll(remoteNames, { timeout: WAIT }).toBe(`remote,${leader === a ? 'tab b' : 'tab a'}`);
    expect(errors).toEqual([]);
    await other.close();
    await remote.close();
    await relay.close();
  });

  // Headless Chromium driven by playwright cannot freeze a page (CDP Page.setWebLifecycleState leaves a visible
  // page running, and headless pages are always visible), so this test fires the Page Lifecycle events a freezing
  // browser fires: it checks the adapter's reaction with real Web Locks. A tab that really stops running, without
  // any event, is the next test.
  it('a leader about to be frozen gives the role up (Page Lifecycle freeze), the other tab takes it, and the frozen one competes again on resume', async () => {
    const { relay, url, remote } = await relayAndRemote();
    const db = `tabs-${++n}`;
    const [a, b] = [await tab(), await tab()];
    for (const page of [a, b]) await page.evaluate((d) => tabs.open(d), db);
    for (const page of [a, b]) await page.evaluate((u) => tabs.connect(u), url);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    const [leader, other] = (await a.evaluate(() => tabs.isLeader())) ? [a, b] : [b, a];
    await leader.evaluate(() => document.dispatchEvent(new Event('freeze')));
    await other.waitForFunction(() => tabs.isLeader(), undefined, { timeout: WAIT });
    await status(other, 'synced');
    await other.evaluate(() => tabs.put('while-frozen', 1));
    expect(await other.evaluate(() => tabs.synced('while-frozen'))).toBe(true);
    await expect.poll(() => relay.connections, { timeout: WAIT }).toBe(2); // the frozen tab closed its socket
    expect(await leader.evaluate(() => tabs.isLeader())).toBe(false);
    await leader.evaluate(() => document.dispatchEvent(new Event('resume')));
    await status(leader, 'synced'); // a follower again, showing the new leader's status
    expect(await leader.evaluate(() => tabs.isLeader())).toBe(false);
    expect(relay.connections).toBe(2);
    expect(errors).toEqual([]);
    await Promise.all([a.close(), b.close()]);
    await remote.close();
    await relay.close();
  });

  it('a stalled leader (no freeze signal) is replaced after its silence, and steps down once it runs again', async () => {
    const { relay, url, remote } = await relayAndRemote();
    const db = `tabs-${++n}`;
    const [a, b] = [await tab(), await tab()];
    const fast = { beatMs: 200, probeTimeoutMs: 300 };
    for (const page of [a, b]) await page.evaluate(([d, o]) => tabs.open(d as string, o as object), [db, fast] as const);
    for (const page of [a, b]) await page.evaluate((u) => tabs.connect(u), url);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    const [leader, other] = (await a.evaluate(() => tabs.isLeader())) ? [a, b] : [b, a];
    await leader.evaluate(() => tabs.stallSoon(6000));
    await other.waitForFunction(() => tabs.isLeader(), undefined, { timeout: WAIT });
    await status(other, 'synced');
    await other.evaluate(() => tabs.put('while-stalled', 1));
    expect(await other.evaluate(() => tabs.synced('while-stalled'))).toBe(true);
    // The stalled tab runs again: it learns it lost the lock, closes its socket and follows.
    await leader.waitForFunction(() => !tabs.isLeader(), undefined, { timeout: WAIT });
    await expect.poll(() => relay.connections, { timeout: WAIT }).toBe(2);
    await status(leader, 'synced');
    expect(errors).toEqual([]);
    await Promise.all([a.close(), b.close()]);
    await remote.close();
    await relay.close();
  });

  it('a tab without the socket that becomes visible again makes the tab holding it reconnect at once', async () => {
    const port = await freePort(); // the relay is down
    const url = `ws://127.0.0.1:${port}`;
    const db = `tabs-${++n}`;
    const [a, b] = [await tab(), await tab()];
    for (const page of [a, b]) await page.evaluate((d) => tabs.open(d), db);
    for (const page of [a, b]) await page.evaluate((u) => tabs.connect(u, true), url); // 30–60 s backoff
    await a.waitForFunction(() => tabs.log().includes('status:connecting'), undefined, { timeout: WAIT });
    await b.waitForFunction(() => tabs.log().includes('status:connecting'), undefined, { timeout: WAIT });
    const [, other] = (await a.evaluate(() => tabs.isLeader())) ? [a, b] : [b, a];
    const relay = await createRelay({ port, host: '127.0.0.1', log: false });
    // Headless pages are always visible: fire the event a tab brought back to the front fires.
    await other.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    expect(relay.connections).toBe(1);
    expect(errors).toEqual([]);
    await Promise.all([a.close(), b.close()]);
    await relay.close();
  });

  it('pending counts writes made offline across a reload; online again (the online event wakes the waiting link) it drops to 0 and whenSynced resolves', async () => {
    const port = await freePort(); // nothing listens there yet: the relay is down
    const url = `ws://127.0.0.1:${port}`;
    const db = `tabs-${++n}`;
    const page = await tab();
    await page.evaluate((d) => tabs.open(d), db);
    await page.evaluate((u) => tabs.connect(u, true), url);
    await page.evaluate(() => Promise.all([tabs.put('k1', 1), tabs.put('k2', 2), tabs.put('k1', 3)]));
    expect(await page.evaluate(() => tabs.pending())).toBe(2);
    expect(await page.evaluate(() => tabs.status())).not.toBe('synced');
    await page.reload();
    await page.waitForFunction(() => typeof tabs === 'object');
    await page.evaluate((d) => tabs.open(d), db);
    expect(await page.evaluate(() => tabs.pending())).toBe(2); // from the log, not from memory
    // Connected with a 30–60 s backoff: its first attempt fails at once, then it waits.
    await page.evaluate((u) => tabs.connect(u, true), url);
    await page.waitForFunction(() => tabs.log().includes('status:connecting'), undefined, { timeout: WAIT });
    const waiting = page.evaluate(() => tabs.whenSynced());
    const relay = await createRelay({ port, host: '127.0.0.1', log: false });
    await page.evaluate(() => window.dispatchEvent(new Event('online')));
    await page.waitForFunction(() => tabs.pending() === 0, undefined, { timeout: WAIT });
    expect(await waiting).toBe('resolved');
    expect(await page.evaluate(() => tabs.status())).toBe('synced');
    const check = await openReplica({ storage: memoryStorage() });
    check.space('room');
    check.connect(webSocketTransport(url));
    await expect.poll(async () => (await check.space('room').get('k1'))?.value, { timeout: WAIT }).toBe(3);
    expect(errors).toEqual([]);
    await page.close();
    await check.close();
    await relay.close();
  });
});
