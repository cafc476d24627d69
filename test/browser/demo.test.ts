// The demo app (demo/) in headless Chromium, served by a real relay: two browser contexts are two devices
// (separate IndexedDB), each switched offline and online with the app's own switch. Each test saves
// screenshots under test-results/ for a person to look at.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { launchChromium, skipBrowser } from './support/chromium.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const demoDir = join(root, 'demo');
const shots = join(root, 'test-results');
/** Bound on every wait for something to happen (sync, reconnect, a render). */
const WAIT = 20_000;

describe.skipIf(skipBrowser)('demo app in headless Chromium', { timeout: 45_000 }, () => {
  let browser: Browser | undefined;
  let relay: Relay | undefined;
  let dataDir: string;
  let port: number;
  const contexts: BrowserContext[] = [];

  const startRelay = async (onPort: number) => {
    relay = await createRelay({ port: onPort, host: '127.0.0.1', staticDir: demoDir, dataDir, log: false });
    port = relay.port;
  };

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'concord-demo-'));
    await mkdir(shots, { recursive: true });
    // The app is bundled by `npm run build`; build it again so the test never runs a stale bundle.
    const [, b] = await Promise.all([promisify(execFile)(process.execPath, [join(demoDir, 'build.mjs')]), launchChromium(), startRelay(0)]);
    browser = b;
  }, 60_000);

  afterAll(async () => {
    for (const c of contexts) await c.close().catch(() => {});
    await browser?.close();
    await relay?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  /** A new device: its own browser context (own IndexedDB), the app opened with ?device=name. */
  async function device(name: string, viewport = { width: 1280, height: 900 }): Promise<Page> {
    const context = await browser!.newContext({ viewport });
    contexts.push(context);
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`${name} page error:`, e));
    await page.goto(`http://127.0.0.1:${port}/?device=${name}`);
    await ready(page);
    return page;
  }

  const ready = (page: Page) => page.waitForSelector('body[data-ready="true"]', { timeout: WAIT });
  const status = (page: Page, s: string) => page.waitForSelector(`#status[data-status="${s}"]`, { timeout: WAIT });

  async function setOnline(page: Page, on: boolean): Promise<void> {
    await page.locator('#online').setChecked(on, { force: true });
    if (!on) await status(page, 'offline');
  }

  const listItems = (page: Page) => page.$$eval('#list-items [data-item]', (els) => els.map((e) => (e as HTMLElement).dataset.item ?? ''));

  async function addItem(page: Page, item: string): Promise<void> {
    await page.fill('#list-input', item);
    await page.press('#list-input', 'Enter');
    await page.waitForSelector(`#list-items [data-item="${item}"]`, { timeout: WAIT });
  }

  async function waitForItems(page: Page, items: string[]): Promise<void> {
    await page
      .waitForFunction(
        (want) => want.every((i) => document.querySelector(`#list-items [data-item="${i}"]`)),
        items,
        { timeout: WAIT },
      )
      .catch(() => {});
    expect(await listItems(page)).toEqual(expect.arrayContaining(items));
  }

  const noPendingWrites = (page: Page) => page.waitForSelector('#pending:text-is("0")', { timeout: WAIT });
  async function shot(page: Page, name: string): Promise<void> {
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  }

  it('list items added on two offline devices all survive the reconnect', async () => {
    const [a, b] = await Promise.all([device('alice'), device('bob')]);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    await Promise.all([setOnline(a, false), setOnline(b, false)]);

    await addItem(a, 'milk');
    await addItem(a, 'eggs');
    await addItem(b, 'bread');
    await addItem(b, 'coffee');
    expect(await listItems(a)).toEqual(['eggs', 'milk']);
    expect(await listItems(b)).toEqual(['bread', 'coffee']);
    expect(await a.locator('#pending').textContent()).toBe('2');
    await shot(a, 'demo-1-list-alice-offline');

    await Promise.all([setOnline(a, true), setOnline(b, true)]);
    const all = ['bread', 'coffee', 'eggs', 'milk'];
    await Promise.all([waitForItems(a, all), waitForItems(b, all)]);
    expect(await listItems(a)).toEqual(all);
    expect(await listItems(b)).toEqual(all);
    await Promise.all([noPendingWrites(a), noPendingWrites(b)]);

    // Removing works, and reaches the other device.
    await a.click('#list-items [data-item="coffee"] button');
    await b.waitForFunction(() => !document.querySelector('#list-items [data-item="coffee"]'), undefined, { timeout: WAIT }).catch(() => {});
    expect(await listItems(b)).toEqual(['bread', 'eggs', 'milk']);
    await Promise.all([shot(a, 'demo-1-list-alice'), shot(b, 'demo-1-list-bob')]);
  });

  it('a note edited on two offline devices shows both versions on both; resolving on one clears it on both', async () => {
    const [a, b] = await Promise.all([device('carol'), device('dave')]);
    await a.click('#note-new');
    await a.fill('#note-text', 'Trip plan\nbring the tent');
    await a.click('#note-save');
    const link = (p: Page) => p.locator('#notes-list .note-link', { hasText: 'Trip plan' });
    await link(b).waitFor({ timeout: WAIT });
    await link(b).click();
    await b.waitForFunction(() => (document.querySelector('#note-text') as HTMLTextAreaElement | null)?.value.includes('bring the tent'), undefined, { timeout: WAIT });

    await Promise.all([setOnline(a, false), setOnline(b, false)]);
    await a.fill('#note-text', 'Trip plan\nbring the tent\ncarol: the stove');
    await a.click('#note-save');
    await b.fill('#note-text', 'Trip plan\nbring the tent\ndave: the map');
    await b.click('#note-save');
    await Promise.all([setOnline(a, true), setOnline(b, true)]);

    const ids = await Promise.all([a.locator('#replica-id').textContent(), b.locator('#replica-id').textContent()]);
    for (const page of [a, b]) {
      await page.waitForSelector('#note-conflict .version >> nth=1', { timeout: WAIT });
      expect(await page.locator('#note-conflict .version').count()).toBe(2);
      const texts = await page.locator('#note-conflict .version-text').allTextContents();
      expect(texts.sort()).toEqual(['Trip plan\nbring the tent\ncarol: the stove', 'Trip plan\nbring the tent\ndave: the map']);
      // Who wrote each version: both replicas' dots are listed, and the read context names both.
      const dots = await page.locator('#note-conflict .dot').allTextContents();
      expect(dots.map((d) => d.split(':')[0]).sort()).toEqual(ids.map((id) => id!.slice(0, 8)).sort());
      const context = (await page.locator('#note-context').textContent()) ?? '';
      for (const id of ids) expect(context).toContain(id!);
      expect(await link(page).locator('.badge-conflict').count()).toBe(1);
    }
    await Promise.all([shot(a, 'demo-2-note-conflict-carol'), shot(b, 'demo-2-note-conflict-dave')]);

    // Carol merges the lines of both versions and saves: written with the read's context.
    await a.click('#note-merge');
    // Every line of both versions once; the order of the two new lines follows the versions' HLC order.
    const merged = await a.inputValue('#note-combination');
    expect(merged.split('\n').slice(0, 2)).toEqual(['Trip plan', 'bring the tent']);
    expect(merged.split('\n').sort()).toEqual(['Trip plan', 'bring the tent', 'carol: the stove', 'dave: the map'].sort());
    await a.click('#note-save-combination');
    for (const page of [a, b]) {
      await page.waitForSelector('#note-conflict', { state: 'detached', timeout: WAIT });
      await page.waitForFunction(() => (document.querySelector('#note-text') as HTMLTextAreaElement | null)?.value.includes('dave: the map'), undefined, { timeout: WAIT });
      expect(await page.inputValue('#note-text')).toBe(merged);
      expect(await link(page).locator('.badge-conflict').count()).toBe(0);
    }
    await shot(b, 'demo-2-note-resolved-dave');
  });

  it('typing in the document on one device appears on the other while online', async () => {
    const [a, b] = await Promise.all([device('erin'), device('frank', { width: 390, height: 844 })]);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    await a.click('#doc');
    await a.keyboard.type('Hello from erin', { delay: 15 });
    await b.waitForFunction(() => (document.querySelector('#doc') as HTMLTextAreaElement).value.includes('Hello from erin'), undefined, { timeout: WAIT });

    // Frank types a line of his own while Erin keeps typing: neither loses text, and Erin's caret stays at her end.
    await b.click('#doc');
    await b.keyboard.press('Control+End');
    await Promise.all([b.keyboard.type('\nfrank was here', { delay: 15 }), a.keyboard.type('!', { delay: 15 })]);
    const both = (p: Page) =>
      p.waitForFunction(
        () => {
          const v = (document.querySelector('#doc') as HTMLTextAreaElement).value;
          return v.includes('Hello from erin!') && v.includes('frank was here');
        },
        undefined,
        { timeout: WAIT },
      );
    await Promise.all([both(a), both(b)]);
    expect(await a.inputValue('#doc')).toBe(await b.inputValue('#doc'));
    expect((await a.inputValue('#doc')).split('\n').sort()).toEqual(['Hello from erin!', 'frank was here']);
    await Promise.all([shot(a, 'demo-3-document-erin'), shot(b, 'demo-3-document-frank-phone')]);
  });

  it('a reload while the relay is down shows the stored data; pending writes sync once the relay is back', async () => {
    const a = await device('grace');
    await status(a, 'synced');
    await addItem(a, 'before the outage');
    await noPendingWrites(a);
    // The service worker must hold the app shell before the relay (which serves it) goes away.
    await a.evaluate(() => navigator.serviceWorker.ready.then(() => undefined));

    const outagePort = port;
    await relay!.close();
    relay = undefined;
    await a.reload();
    await ready(a);
    expect(await listItems(a)).toContain('before the outage');
    await addItem(a, 'during the outage');
    expect(await a.locator('#writes .write[data-durability="local"]').count()).toBe(1);
    expect(await a.getAttribute('#status', 'data-status')).not.toBe('synced');
    await shot(a, 'demo-4-relay-down-grace');

    await startRelay(outagePort);
    await status(a, 'synced');
    await noPendingWrites(a);
    const b = await device('heidi');
    await waitForItems(b, ['before the outage', 'during the outage']);
    await Promise.all([shot(a, 'demo-4-relay-back-grace'), shot(b, 'demo-4-relay-back-heidi')]);
  });
});
