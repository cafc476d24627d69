/**
 * Driving the demo app (demo/) in a playwright page: waits bounded by WAIT, the app's own controls (the online
 * switch, the list form, the document editor), and full-page screenshots under test-results/.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export const shots = fileURLToPath(new URL('../../../test-results/', import.meta.url));
/** Bound on every wait for something to happen (sync, reconnect, a render). */
export const WAIT = 20_000;

export const ready = (page: Page) => page.waitForSelector('body[data-ready="true"]', { timeout: WAIT });
export const status = (page: Page, s: string) => page.waitForSelector(`#status[data-status="${s}"]`, { timeout: WAIT });

/** Flips the window's online switch; switched off, waits until the window shows it is offline. */
export async function setOnline(page: Page, on: boolean): Promise<void> {
  await page.locator('#online').setChecked(on, { force: true });
  if (!on) await status(page, 'offline');
}

export const listItems = (page: Page) => page.$$eval('#list-items [data-item]', (els) => els.map((e) => (e as HTMLElement).dataset.item ?? ''));

export async function addItem(page: Page, item: string): Promise<void> {
  await page.fill('#list-input', item);
  await page.press('#list-input', 'Enter');
  await page.waitForSelector(`#list-items [data-item="${item}"]`, { timeout: WAIT });
}

export async function waitForItems(page: Page, items: string[]): Promise<void> {
  await page
    .waitForFunction((want) => want.every((i) => document.querySelector(`#list-items [data-item="${i}"]`)), items, { timeout: WAIT })
    .catch(() => {});
  expect(await listItems(page)).toEqual(expect.arrayContaining(items));
}

export const noPendingWrites = (page: Page) => page.waitForSelector('#pending:text-is("0")', { timeout: WAIT });

export async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage });
}

/** The open document's text (the editor's own state, not its DOM: remote cursors add labels there). */
export const docText = (page: Page) =>
  page.evaluate(() => (window as unknown as { concordDemo: { editor: { text(): string } } }).concordDemo.editor.text());
export const editor = (page: Page) => page.locator('#doc-editor .cm-content');

export async function waitForText(page: Page, pred: (text: string) => boolean, what: string): Promise<string> {
  const end = Date.now() + WAIT;
  for (;;) {
    const t = await docText(page);
    if (pred(t)) return t;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; text is ${JSON.stringify(t)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Types before the last character of the given line (0-based) of the editor. */
export async function typeBeforeLineEnd(page: Page, line: number, text: string): Promise<void> {
  await page.locator('#doc-editor .cm-line').nth(line).click();
  await page.keyboard.press('End');
  await page.keyboard.press('ArrowLeft');
  await page.keyboard.type(text, { delay: 10 });
}
