// concord/react in real headless Chromium: a tiny React app (test/browser/react-page/app.ts) under StrictMode
// shows changes a Node replica writes through a relay on loopback, re-renders a component only when what it
// reads changed (render counters), and React reports no unstable snapshot (no console error).
import type { Browser, Page } from 'playwright-core';
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import type { ReactApp } from './react-page/app.js';
import { launchChromium, skipBrowser } from './support/chromium.js';
import { servePage, type PageServer } from './support/serve.js';

declare const app: ReactApp;
const WAIT = 20_000;

describe.skipIf(skipBrowser)('concord/react in headless Chromium', { timeout: 60_000 }, () => {
  let browser: Browser | undefined;
  let server: PageServer | undefined;
  let relay: Relay | undefined;
  let node: Replica | undefined;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    const bundle = build({
      entryPoints: [fileURLToPath(new URL('./react-page/app.ts', import.meta.url))],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      define: { 'process.env.NODE_ENV': '"development"' },
      logLevel: 'silent',
    });
    const [b, r, result] = await Promise.all([launchChromium(), createRelay({ port: 0, host: '127.0.0.1', log: false }), bundle]);
    browser = b;
    relay = r;
    server = await servePage(result.outputFiles[0]!.text);
    node = await openReplica({ storage: memoryStorage() });
    node.connect(webSocketTransport(`ws://127.0.0.1:${relay.port}`));
    await node.space('room').put('a', 1);
    page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    // React reports an unstable getSnapshot, a missing key, an update on an unmounted component as console errors.
    page.on('console', (m) => void (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico') && errors.push(m.text())));
    await page.goto(server.url);
    await page.waitForFunction(() => typeof app === 'object');
    await page.evaluate((url) => app.start(url), `ws://127.0.0.1:${relay.port}`);
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await node?.close();
    await relay?.close();
    await server?.close();
  });

  const text = (sel: string, want: string) =>
    page.waitForFunction(([s, w]) => document.querySelector(s!)?.textContent === w, [sel, want], { timeout: WAIT });
  const renders = () => page.evaluate(() => ({ ...app.renders }));

  it('useValue shows a remote change; useStatus reaches synced', async () => {
    await text('#value-a', '1');
    await text('#status', 'synced');
    await node!.space('room').put('a', 2);
    await text('#value-a', '2');
    expect(errors).toEqual([]);
  });

  it('a component does not re-render for changes of keys it does not read', async () => {
    await text('#value-a', '2');
    const before = await renders();
    for (let i = 1; i <= 20; i++) await node!.space('room').put('b', i);
    await text('#value-b', '20');
    const after = await renders();
    expect(after['value:b']!).toBeGreaterThan(before['value:b']!);
    expect(after['value:a']).toBe(before['value:a']);
    expect(after.scan).toBe(before.scan);
    expect(after.presence).toBe(before.presence);
    // ...and it does re-render when its own key changes, here by a write in the page.
    await page.evaluate(() => app.put('a', 3));
    await text('#value-a', '3');
    expect((await renders())['value:a']!).toBeGreaterThan(after['value:a']!);
    await expect.poll(async () => (await node!.space('room').get('a'))?.value, { timeout: WAIT }).toBe(3);
    expect(errors).toEqual([]);
  });

  it('useScan follows keys under a prefix as they are added and deleted', async () => {
    const room = node!.space('room');
    await room.put('todo/2', 'eggs');
    await room.put('todo/1', 'milk');
    await room.put('other', 'not listed');
    const items = () => page.$$eval('#todos li', (els) => els.map((e) => `${(e as HTMLElement).dataset.key}=${e.textContent}`));
    await expect.poll(items, { timeout: WAIT }).toEqual(['todo/1=milk', 'todo/2=eggs']);
    await room.delete('todo/1');
    await expect.poll(items, { timeout: WAIT }).toEqual(['todo/2=eggs']);
    expect(errors).toEqual([]);
  });

  it('usePending shows writes made offline until the relay holds them', async () => {
    await text('#status', 'synced');
    await text('#pending', '0');
    await page.evaluate(() => app.online(false));
    await text('#status', 'offline');
    await page.evaluate(() => Promise.all([app.put('a', 41), app.put('b', 42)]));
    await text('#pending', '2');
    await page.evaluate(() => app.online(true));
    await text('#pending', '0');
    await text('#status', 'synced');
    await expect.poll(async () => (await node!.space('room').get('b'))?.value, { timeout: WAIT }).toBe(42);
    expect(errors).toEqual([]);
  });

  it('a component mounting again soon after the last one on its key left renders the current value, never the one before', async () => {
    // React renders a mounting component with getSnapshot before it subscribes: the cached store must still be current.
    const room = node!.space('room');
    await room.put('c', 1);
    await page.evaluate(() => app.mountSeen(true));
    await text('#seen', '1');
    await page.evaluate(() => app.mountSeen(false));
    await room.put('c', 2);
    await page.waitForFunction(async () => (await app.get('c')) === 2, undefined, { timeout: WAIT });
    await page.evaluate(() => {
      app.seen.length = 0;
      app.mountSeen(true);
    });
    await text('#seen', '2');
    const seen = await page.evaluate(() => [...app.seen]);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen).not.toContain('1');
    await page.evaluate(() => app.mountSeen(false));
    expect(errors).toEqual([]);
  });

  it('usePresence lists who is online in the space', async () => {
    node!.space('room').presence.set({ name: 'node' });
    await expect.poll(() => page.textContent('#members'), { timeout: WAIT }).toMatch(/^(node,page|page,node)$/);
    expect(errors).toEqual([]);
  });
});
