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
import {
  addItem,
  docText,
  editor,
  listItems,
  noPendingWrites,
  ready,
  setOnline,
  shot,
  shots,
  status,
  typeBeforeLineEnd,
  WAIT,
  waitForItems,
  waitForText,
} from './support/demo-page.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
/** The UI's notation: a dot is `replica·counter`, a context `{replica: counter, …}`, replicas by their first 8 characters. */
const DOT = /^([A-Za-z0-9_-]{8})·(\d+)$/;
const CONTEXT = /^\{(?:[A-Za-z0-9_-]{8}: \d+(?:, [A-Za-z0-9_-]{8}: \d+)*)?\}$/;
const demoDir = join(root, 'demo');

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
    return tab(context, name);
  }

  /** Another tab of a device: a page in the same browser context (the same IndexedDB, Web Locks, BroadcastChannel). */
  async function tab(context: BrowserContext, name: string): Promise<Page> {
    const page = await context.newPage();
    page.on('pageerror', (e) => console.error(`${name} page error:`, e));
    await page.goto(`http://127.0.0.1:${port}/?device=${name}`);
    await ready(page);
    return page;
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
    expect(await a.locator('#pending').textContent()).toBe('1'); // one key (the list) waits for the relay
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
      // Who wrote each version: both replicas' dots are listed, and the read context names both, in one notation:
      // a dot `replica·counter`, a context `{replica: counter, …}` (replicas shortened alike, counters in decimal).
      const dots = await page.locator('#note-conflict .dot').allTextContents();
      for (const d of dots) expect(d).toMatch(DOT);
      expect(dots.map((d) => DOT.exec(d)![1]).sort()).toEqual(ids.map((id) => id!.slice(0, 8)).sort());
      const context = (await page.locator('#note-context').textContent()) ?? '';
      expect(context).toMatch(CONTEXT);
      // The versions in conflict are exactly the context's latest dots.
      for (const d of dots) expect(context).toContain(d.replace('·', ': '));
      const raw = (await page.locator('#note-context').getAttribute('title')) ?? '';
      for (const id of ids) expect(raw).toContain(id!);
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
      // The note's own line and the write journal use the same notation.
      await page.waitForSelector('#note-meta .dot', { timeout: WAIT });
      expect(await page.locator('#note-meta .dot').textContent()).toMatch(DOT);
      expect(await page.locator('#note-meta .context').textContent()).toMatch(CONTEXT);
      const written = await page.locator('#writes .write-dot').allTextContents();
      expect(written.length).toBeGreaterThan(0);
      for (const d of written) expect(d).toMatch(DOT);
    }
    await shot(b, 'demo-2-note-resolved-dave');
  });

  it('typing in the document on one device appears on the other, with its cursor', async () => {
    const [a, b] = await Promise.all([device('erin'), device('frank', { width: 390, height: 844 })]);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    await editor(a).click();
    await a.keyboard.type('Hello from erin', { delay: 15 });
    await waitForText(b, (t) => t.includes('Hello from erin'), 'erin’s text on frank');

    // Both type into the same line at once, online: every keystroke of both survives, in the same text on both.
    await editor(b).click();
    await b.keyboard.press('Control+End');
    await Promise.all([b.keyboard.type(' and frank', { delay: 15 }), a.keyboard.type('!!', { delay: 15 })]);
    const done = (t: string) => t.includes('frank') && (t.match(/!/g) ?? []).length === 2 && t.includes(' and frank');
    const [ta, tb] = await Promise.all([waitForText(a, done, 'both edits on erin'), waitForText(b, done, 'both edits on frank')]);
    await waitForText(a, (t) => t === tb, 'the same text on both');
    expect(ta.replace(' and frank', '').replace('!!', '')).toBe('Hello from erin');
    // Erin's caret shows on Frank's screen, labelled with her name.
    await b.locator('#doc-editor .cm-ySelectionInfo', { hasText: 'erin' }).first().waitFor({ state: 'attached', timeout: WAIT });
    await Promise.all([shot(a, 'demo-3-document-erin'), shot(b, 'demo-3-document-frank-phone')]);
  });

  it('two offline devices typing into the same paragraph converge character by character once online', async () => {
    const [a, b] = await Promise.all([device('ivan'), device('judy')]);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    // A fresh document both will edit (the main one holds the previous test's text).
    await a.click('#doc-new');
    await a.fill('#doc-title', 'Offline paragraph');
    await a.press('#doc-title', 'Enter');
    const link = (p: Page) => p.locator('#docs-list .doc-link', { hasText: 'Offline paragraph' });
    await link(b).waitFor({ timeout: WAIT });
    await link(b).click();
    await editor(a).click();
    await a.keyboard.type('The quick fox jumps.', { delay: 5 });
    await waitForText(b, (t) => t === 'The quick fox jumps.', 'the paragraph on judy');

    await Promise.all([setOnline(a, false), setOnline(b, false)]);
    // Ivan inserts inside the sentence, Judy appends to it and inserts near its start: the same paragraph.
    await editor(a).click();
    await a.keyboard.press('Control+Home');
    for (let i = 0; i < 10; i++) await a.keyboard.press('ArrowRight');
    await a.keyboard.type('brown ', { delay: 10 });
    await typeBeforeLineEnd(b, 0, ' high');
    await b.keyboard.press('Control+Home');
    for (let i = 0; i < 4; i++) await b.keyboard.press('ArrowRight');
    await b.keyboard.type('very ', { delay: 10 });
    expect(await docText(a)).toBe('The quick brown fox jumps.');
    expect(await docText(b)).toBe('The very quick fox jumps high.');
    await shot(a, 'demo-5-offline-ivan');

    await Promise.all([setOnline(a, true), setOnline(b, true)]);
    const want = 'The very quick brown fox jumps high.';
    await Promise.all([waitForText(a, (t) => t === want, 'the merge on ivan'), waitForText(b, (t) => t === want, 'the merge on judy')]);
    await Promise.all([noPendingWrites(a), noPendingWrites(b)]);
    // The list shows both documents on both devices, renamed title included.
    for (const p of [a, b]) expect(await p.locator('#docs-list .doc-item').count()).toBeGreaterThanOrEqual(2);
    await Promise.all([shot(a, 'demo-5-merged-ivan'), shot(b, 'demo-5-merged-judy')]);
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

  it('every tab connects: two tabs of one device both show synced, and either switched off leaves the other synced', async () => {
    const a = await device('kim');
    const b = await tab(a.context(), 'kim');
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    // A write in either tab reports synced there (one of them holds the socket for both).
    await addItem(b, 'from the second tab');
    await b.waitForSelector('#writes .write[data-durability="synced"]', { timeout: WAIT });
    await noPendingWrites(b);
    await waitForItems(a, ['from the second tab']);
    // Each tab is its own member, and each calls the other "another tab".
    for (const page of [a, b]) {
      await page.waitForFunction(() => document.querySelectorAll('#members .member.same-device').length === 1, undefined, { timeout: WAIT });
      expect(await page.locator('#members .member.self').count()).toBe(1);
    }
    await Promise.all([shot(a, 'demo-7-tabs-first'), shot(b, 'demo-7-tabs-second')]);

    // Each tab's switch is its own: either one off, the other stays synced (taking the socket over if it must).
    await setOnline(a, false);
    await status(b, 'synced');
    await addItem(b, 'while the first tab is off');
    await noPendingWrites(b);
    await setOnline(a, true);
    await status(a, 'synced');
    await setOnline(b, false);
    await status(a, 'synced');
    await addItem(a, 'while the second tab is off');
    await noPendingWrites(a);
    expect(await b.getAttribute('#status', 'data-status')).toBe('offline');
    await setOnline(b, true);
    await status(b, 'synced');

    // The tab holding the socket goes away: the other one carries on.
    await a.close();
    await status(b, 'synced');
    await addItem(b, 'after the first tab closed');
    await noPendingWrites(b);
    await b.close();
  });

  it('the pending count comes from the replica, so it is right after a reload', async () => {
    const a = await device('lena');
    await status(a, 'synced');
    await setOnline(a, false);
    await addItem(a, 'offline one');
    await addItem(a, 'offline two'); // the same key: the list
    await a.click('#note-new'); // a second key
    await a.waitForSelector('#note-text', { timeout: WAIT });
    await a.waitForFunction(() => document.querySelector('#pending')?.textContent !== '0', undefined, { timeout: WAIT });
    const before = await a.locator('#pending').textContent();
    await a.reload();
    await ready(a);
    expect(await a.getAttribute('#status', 'data-status')).toBe('offline'); // the switch is remembered per tab
    expect(await a.locator('#pending').textContent()).toBe(before);
    expect(before).toBe('2'); // keys waiting for the relay: the list and the note
    await shot(a, 'demo-6-pending-after-reload-lena');
    await setOnline(a, true);
    await noPendingWrites(a);
  });

  it('a window that is offline does not show the others as online: they show as last seen', async () => {
    const [a, b] = await Promise.all([device('mia'), device('noah')]);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    const noah = a.locator('#members .member', { hasText: 'noah' });
    await noah.waitFor({ timeout: WAIT });
    await setOnline(a, false);
    const heading = await a.$eval('#members', (el) => el.previousElementSibling?.textContent ?? '');
    expect(heading).not.toMatch(/online/i);
    const shown = await noah.count();
    if (shown > 0) {
      expect(await noah.getAttribute('data-presence')).toBe('last-seen');
      expect(await noah.textContent()).toContain('last seen');
    }
    // Only this window itself is shown as here, and the document does not count others as editing it now.
    expect(await a.locator('#members .member[data-presence="online"]:not(.self)').count()).toBe(0);
    expect(await a.locator('#doc-info').textContent()).not.toMatch(/editors? here/);
    await shot(a, 'demo-8-presence-offline-mia');
    await setOnline(a, true);
    await noah.and(a.locator('[data-presence="online"]')).waitFor({ timeout: WAIT });
  });

  it('an edit concurrent with a delete: keeping the deletion deletes the note, and the conflict clears on both devices', async () => {
    const [a, b] = await Promise.all([device('olga'), device('pete')]);
    await Promise.all([status(a, 'synced'), status(b, 'synced')]);
    await a.click('#note-new');
    await a.fill('#note-text', 'Packing list\nsocks');
    await a.click('#note-save');
    const link = (p: Page) => p.locator('#notes-list .note-link', { hasText: 'Packing list' });
    await link(b).waitFor({ timeout: WAIT });
    const key = (await link(a).getAttribute('data-key'))!;
    await link(b).click();
    await b.waitForFunction(() => (document.querySelector('#note-text') as HTMLTextAreaElement | null)?.value.includes('socks'), undefined, { timeout: WAIT });

    await Promise.all([setOnline(a, false), setOnline(b, false)]);
    await a.click('#note-delete');
    await link(a).waitFor({ state: 'detached', timeout: WAIT });
    await b.fill('#note-text', 'Packing list\nsocks\nhat');
    await b.click('#note-save');
    await Promise.all([setOnline(a, true), setOnline(b, true)]);

    // Olga's note comes back in conflict: Pete's edit beside her deletion.
    await link(a).locator('.badge-conflict').waitFor({ timeout: WAIT });
    await link(a).click();
    for (const page of [a, b]) {
      await page.waitForSelector('#note-conflict .version >> nth=1', { timeout: WAIT });
      expect(await page.locator('#note-conflict .version.deleted').count()).toBe(1);
    }
    await Promise.all([shot(a, 'demo-10-edit-vs-delete-olga'), shot(b, 'demo-10-edit-vs-delete-pete')]);

    await a.locator('#note-conflict .version.deleted button', { hasText: 'Keep the deletion' }).click({ timeout: WAIT });
    for (const page of [a, b]) {
      await link(page).waitFor({ state: 'detached', timeout: WAIT });
      await page.waitForSelector('#note-conflict', { state: 'detached', timeout: WAIT });
    }
    // Deleted on both, in the replicas themselves, with no sibling left.
    for (const page of [a, b]) {
      await page.waitForFunction(
        async (k) => (await (window as unknown as { concordDemo: { space: { get(k: string): Promise<unknown> } } }).concordDemo.space.get(k)) === undefined,
        key,
        { timeout: WAIT },
      );
    }
    await shot(b, 'demo-10-deletion-kept-pete');
  });

  it('a title typed right after "New", before the new document is stored, names the new document', async () => {
    const a = await device('sybil');
    await status(a, 'synced');
    // Click, type and submit in one task: the new document's put has not resolved yet.
    await a.evaluate(() => {
      document.getElementById('doc-new')!.click();
      const input = document.getElementById('doc-title') as HTMLInputElement;
      input.value = 'Typed at once';
      (document.getElementById('doc-rename') as HTMLFormElement).requestSubmit();
    });
    const item = a.locator('#docs-list .doc-item', { hasText: 'Typed at once' });
    await item.waitFor({ timeout: WAIT });
    expect(await item.getAttribute('data-doc')).not.toBe('main'); // the new document, not the one open before
    await a.locator('#docs-list .doc-item[data-doc="main"]', { hasText: 'Shared document' }).waitFor({ timeout: WAIT });
    await a.waitForFunction(() => document.querySelector('#docs-list .doc-item.open')?.textContent === 'Typed at once', undefined, { timeout: WAIT });
    expect(await a.inputValue('#doc-title')).toBe('Typed at once');
  });

  it('a new device shows one empty state per panel, not two', async () => {
    // Kept offline from its first load, so the data the other tests synced never reaches it.
    const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    contexts.push(context);
    await context.addInitScript(() => sessionStorage.setItem('concord-demo-online-quinn', '0'));
    const a = await tab(context, 'quinn');
    await status(a, 'offline');
    await a.locator('.notes-card .empty', { hasText: 'No notes yet' }).first().waitFor({ timeout: WAIT }); // the notes scanned
    const perCard = await a.$$eval('.card', (cards) =>
      cards.map((card) => ({
        card: card.querySelector('h2')?.textContent ?? '',
        empty: [...card.querySelectorAll<HTMLElement>('.empty')].filter((e) => e.offsetParent !== null).map((e) => e.textContent),
      })),
    );
    for (const { card, empty } of perCard) expect(empty.length, `${card}: ${empty.join(' / ')}`).toBeLessThanOrEqual(1);
    // The list says it is empty once: no "0 items" beside "Nothing yet".
    expect(await a.locator('#list-count').isVisible()).toBe(false);
    await shot(a, 'demo-11-empty-quinn');
  });

  it('on a phone the header is one short row, and nothing overflows sideways', async () => {
    const a = await device('rosa-with-a-long-device-name', { width: 390, height: 844 });
    await status(a, 'synced');
    const header = await a.$eval('.topbar', (el) => el.getBoundingClientRect().height);
    expect(header).toBeLessThanOrEqual(56);
    expect(await a.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
    for (const sel of ['#device-name', '#status', '.switch .track']) expect(await a.locator(sel).isVisible(), sel).toBe(true);
    await shot(a, 'demo-9-phone-header-rosa', false);
  });
});
