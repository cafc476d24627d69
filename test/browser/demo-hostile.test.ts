// The demo app (demo/) in headless Chromium against a hostile peer: a Node replica connected to the same relay writes
// values the demo renders — markup in values and key names, values of the wrong type or shape, an object whose
// conversion to text throws, a document key holding no document — and the demo must show them as text, keep every
// panel working, and still write. Last, the relay restarts under an open page.
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, merges, openReplica, type Replica, type Space } from '../../lib/index.js';
import type { AddWinsSet } from '../../lib/merges/index.js';
import { launchChromium, skipBrowser } from './support/chromium.js';
import { addItem, listItems, ready, status, WAIT } from './support/demo-page.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const demoDir = join(root, 'demo');
/** The items of a list value as the demo reads it (its sets only). */
const addWinsItems = (v: unknown) => {
  try {
    return merges.addWins.values(v as AddWinsSet);
  } catch {
    return [];
  }
};
/** Markup that runs script if it ever reaches innerHTML (an attribute handler, no network needed). */
const MARKUP = '<img src=x onerror="window.__pwned=1"><b>bold</b>';

describe.skipIf(skipBrowser)('demo app against a hostile peer, and a relay restarting under it', { timeout: 60_000 }, () => {
  let browser: Browser | undefined;
  let relay: Relay | undefined;
  let peer: Replica | undefined;
  let dataDir: string;
  let context: BrowserContext | undefined;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'concord-demo-hostile-'));
    const [, b, r] = await Promise.all([
      promisify(execFile)(process.execPath, [join(demoDir, 'build.mjs')]),
      launchChromium(),
      createRelay({ port: 0, host: '127.0.0.1', staticDir: demoDir, dataDir, log: false }),
    ]);
    browser = b;
    relay = r;
    peer = await openReplica({ storage: memoryStorage() });
    peer.connect(webSocketTransport(`ws://127.0.0.1:${relay.port}`));
  }, 60_000);

  afterAll(async () => {
    await context?.close().catch(() => {});
    await browser?.close();
    await peer?.close();
    await relay?.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  async function open(name: string): Promise<Page> {
    context ??= await browser!.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(`${name}: ${e.message}`));
    await page.goto(`http://127.0.0.1:${relay!.port}/?device=${name}`);
    await ready(page);
    await status(page, 'synced');
    return page;
  }

  it('markup in values and key names shows as text and never runs', async () => {
    const space = peer!.space('demo');
    await space.put(`notes/${MARKUP}`, `${MARKUP}\nsecond line`);
    await space.put(`doc-titles/${MARKUP}`, { title: MARKUP });
    const page = await open('victim');
    const note = page.locator('#notes-list .note-link', { hasText: '<img src=x' });
    await note.waitFor({ timeout: WAIT });
    expect(await note.getAttribute('data-key')).toBe(`notes/${MARKUP}`);
    await note.click();
    await page.waitForFunction((want) => (document.querySelector('#note-text') as HTMLTextAreaElement | null)?.value === want, `${MARKUP}\nsecond line`, { timeout: WAIT });
    await page.locator('#docs-list .doc-link', { hasText: '<img src=x' }).waitFor({ timeout: WAIT });
    // Nothing the peer wrote became an element.
    expect(await page.evaluate(() => document.querySelectorAll('main img, main b, #notes-list img, #docs-list img').length)).toBe(0);
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await page.close();
  });

  it('a note whose value cannot be shown as text does not stop the notes list', async () => {
    const space = peer!.space('demo');
    // An object whose conversion to a string throws in the browser (no callable toString or valueOf).
    await space.put('notes/a-object', { toString: 1, valueOf: 1 });
    await space.put('notes/b-fine', 'Shopping\nbread');
    const page = await open('victim');
    await page.locator('#notes-list .note-link', { hasText: 'Shopping' }).waitFor({ timeout: WAIT });
    const hostile = page.locator('#notes-list .note-link[data-key="notes/a-object"]');
    await hostile.waitFor({ timeout: WAIT });
    await hostile.click();
    // Opened, it shows some text, and saving writes a string over it.
    await page.waitForSelector('#note-text', { timeout: WAIT });
    await page.fill('#note-text', 'repaired');
    await page.click('#note-save');
    await expect.poll(async () => (await space.get('notes/a-object'))?.value, { timeout: WAIT }).toBe('repaired');
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('a document key holding something that is not a document: the editor still opens, and typing writes a document', async () => {
    const space = peer!.space('demo');
    await space.put('docs/main', { not: 'a document' });
    const page = await open('victim');
    await page.waitForFunction(
      async () => ((await (window as unknown as { concordDemo: { space: Space } }).concordDemo.space.get('docs/main'))?.value as { not?: string } | undefined)?.not === 'a document',
      undefined,
      { timeout: WAIT },
    );
    await page.locator('#doc-editor .cm-content').waitFor({ timeout: WAIT });
    await page.locator('#doc-editor .cm-content').click();
    await page.keyboard.type('typed over', { delay: 10 });
    await page.waitForFunction(() => (window as unknown as { concordDemo: { editor: { text(): string } } }).concordDemo.editor.text().includes('typed over'), undefined, { timeout: WAIT });
    await expect.poll(async () => (await space.get('docs/main'))?.value instanceof Uint8Array, { timeout: WAIT }).toBe(true);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('a list of the wrong type or shape shows as unreadable, and adding an item starts a list again', async () => {
    const space = peer!.space('demo');
    await space.put('list', 'not a set');
    const page = await open('victim');
    // Once the page holds the peer's value (read through the app's own space), adding an item still works.
    await page.waitForFunction(
      async () => (await (window as unknown as { concordDemo: { space: Space } }).concordDemo.space.get('list'))?.value === 'not a set',
      undefined,
      { timeout: WAIT },
    );
    await addItem(page, 'milk');
    expect(await listItems(page)).toEqual(['milk']);
    await expect.poll(async () => merges.addWins.values((await space.get<AddWinsSet<string>>('list'))?.value), { timeout: WAIT }).toEqual(['milk']);
    // A set whose entries are not entries, and one whose item is an object that cannot be shown as text.
    await space.put('list', { e: [5], cc: {} });
    await page.waitForSelector('#list-items .unreadable', { timeout: WAIT });
    const item = { toString: 1, valueOf: 1 };
    await space.put('list', merges.addWins.add<unknown>(merges.addWins.add<unknown>(undefined, peer!.replicaId, 'eggs'), peer!.replicaId, item));
    await page.waitForSelector('#list-items [data-item="eggs"]', { timeout: WAIT });
    expect(await page.locator('#list-items .list-item').count()).toBe(2);
    // Removing the strange item still works: it goes, eggs stays.
    await page.locator('#list-items .list-item:not([data-item="eggs"]) button').click();
    await expect.poll(() => listItems(page), { timeout: WAIT }).toEqual(['eggs']);
    expect(pageErrors).toEqual([]);
    await page.close();
  });

  it('on a phone, long unbroken words a peer wrote (an item, a document title, a note, a key) overflow nothing sideways', async () => {
    const space = peer!.space('demo');
    const long = (c: string) => c.repeat(400);
    await space.put('list', merges.addWins.add(undefined, peer!.replicaId, long('x')));
    await space.put(`doc-titles/${long('k')}`, { title: long('y') });
    await space.put(`notes/${long('n')}`, `${long('z')}\n${long('w')}`);
    const phone = await browser!.newContext({ viewport: { width: 390, height: 844 } });
    try {
      const page = await phone.newPage();
      page.on('pageerror', (e) => pageErrors.push(`phone: ${e.message}`));
      await page.goto(`http://127.0.0.1:${relay!.port}/?device=phone`);
      await ready(page);
      await page.waitForSelector(`#list-items [data-item="${long('x')}"]`, { timeout: WAIT });
      await page.locator('#docs-list .doc-link', { hasText: 'yyyy' }).waitFor({ timeout: WAIT });
      const note = page.locator('#notes-list .note-link', { hasText: 'zzzz' });
      await note.waitFor({ timeout: WAIT });
      await note.click();
      await page.waitForSelector('#note-text', { timeout: WAIT });
      const wide = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((el) => el.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
          .map((el) => `${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${[...el.classList].join('.')}`)
          .slice(0, 8),
      );
      expect(wide).toEqual([]);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
      expect(pageErrors).toEqual([]);
    } finally {
      await phone.close();
    }
  });

  it('a link naming a relay of another host (?relay=) does not take the device\'s data there', async () => {
    // The page on http://localhost:<port>, the link's relay on 127.0.0.1: another host name, as a stranger's would be.
    const evil = await createRelay({ port: 0, host: '127.0.0.1', log: false });
    const thief = await openReplica({ storage: memoryStorage() });
    thief.connect(webSocketTransport(`ws://127.0.0.1:${evil.port}`));
    const linked = await browser!.newContext();
    try {
      const page = await linked.newPage();
      page.on('pageerror', (e) => pageErrors.push(`linked: ${e.message}`));
      await page.goto(`http://localhost:${relay!.port}/?device=linked&relay=${encodeURIComponent(`ws://127.0.0.1:${evil.port}`)}`);
      await ready(page);
      await status(page, 'synced');
      await addItem(page, 'secret');
      // The page's own relay got it (the peer on it sees it), the link's relay did not.
      await expect.poll(async () => addWinsItems((await peer!.space('demo').get('list'))?.value), { timeout: WAIT }).toContain('secret');
      await new Promise((r) => setTimeout(r, 300));
      expect(await thief.space('demo').get('list')).toBeUndefined();
      expect(pageErrors).toEqual([]);
    } finally {
      await linked.close();
      await thief.close();
      await evil.close();
    }
  });

  it('the relay restarting under an open page: it reconnects by itself, and a write made meanwhile reaches the peer', async () => {
    const page = await open('victim');
    const port = relay!.port;
    await relay!.close();
    await page.waitForSelector('#status:not([data-status="synced"])', { timeout: WAIT });
    await addItem(page, 'during-outage');
    expect(await page.locator('#pending').textContent()).not.toBe('0');
    relay = await createRelay({ port, host: '127.0.0.1', staticDir: demoDir, dataDir, log: false });
    await status(page, 'synced');
    await page.waitForSelector('#pending:text-is("0")', { timeout: WAIT });
    await expect
      .poll(async () => addWinsItems((await peer!.space('demo').get('list'))?.value), { timeout: WAIT })
      .toContain('during-outage');
    expect(pageErrors).toEqual([]);
    await page.close();
  });
});
