// The README's React example (its `tsx` block), run as written in headless Chromium: bundled with esbuild
// (`concord` resolving to this package's dist/, React's development build), served on localhost with an
// element #app, connected to a relay on loopback (the port is the only substitution). A Node replica's
// writes must appear in the page.
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { build } from 'esbuild';
import type { Browser } from 'playwright-core';
import { afterAll, describe, expect, it } from 'vitest';
import { createRelay, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { readmeBlocks, ROOT } from '../readme/blocks.js';
import { launchChromium, skipBrowser } from './support/chromium.js';
import { servePage, type PageServer } from './support/serve.js';

const WAIT = 20_000;
let browser: Browser | undefined;
let server: PageServer | undefined;
let relay: Relay | undefined;
let node: Replica | undefined;
let dir: string | undefined;

afterAll(async () => {
  await browser?.close();
  await node?.close();
  await relay?.close();
  await server?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(skipBrowser)("README's React example in headless Chromium", () => {
  const blocks = readmeBlocks().filter((b) => b.lang === 'tsx');

  it('has one', () => expect(blocks.length).toBe(1));

  it('renders, reaches synced, and shows what another replica writes', { timeout: 90_000 }, async () => {
    relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
    const block = blocks[0]!;
    expect(block.code).toContain('ws://127.0.0.1:8787');
    await mkdir(join(ROOT, 'test-results'), { recursive: true });
    dir = await mkdtemp(join(ROOT, 'test-results', 'readme-react-'));
    const entry = join(dir, 'app.tsx');
    await writeFile(entry, block.code.replaceAll('ws://127.0.0.1:8787', `ws://127.0.0.1:${relay.port}`));
    const bundled = await build({
      entryPoints: [entry],
      bundle: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      jsx: 'automatic',
      write: false,
      define: { 'process.env.NODE_ENV': '"development"' },
      logLevel: 'silent',
    });
    const errors: string[] = [];
    [browser, server] = await Promise.all([launchChromium(), servePage(bundled.outputFiles[0]!.text, '<div id="app"></div>')]);
    const page = await browser.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => void (m.type() === 'error' && !m.location().url.endsWith('/favicon.ico') && errors.push(m.text())));
    await page.goto(server.url);
    await page.waitForSelector('main[data-status="synced"]', { timeout: WAIT });
    expect(await page.textContent('h1')).toBe('Untitled');

    node = await openReplica({ storage: memoryStorage() });
    node.connect(webSocketTransport(`ws://127.0.0.1:${relay.port}`));
    const space = node.space('team-42');
    await space.put('title', 'Groceries');
    await space.put('todo/2', 'eggs');
    await space.put('todo/1', 'milk');
    await page.waitForFunction(() => document.querySelector('h1')?.textContent === 'Groceries', undefined, { timeout: WAIT });
    await expect.poll(() => page.$$eval('li', (els) => els.map((e) => e.textContent)), { timeout: WAIT }).toEqual(['milk', 'eggs']);
    expect(errors).toEqual([]);
  });
});
