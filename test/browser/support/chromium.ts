/**
 * Launching the system Chromium (Debian's `chromium` package) headless with playwright-core. A browser is
 * never downloaded. Missing Chromium is a failure with instructions, unless CONCORD_SKIP_BROWSER=1.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const skipBrowser = process.env.CONCORD_SKIP_BROWSER === '1';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install -y chromium; .ci/run does) or set CONCORD_SKIP_BROWSER=1 to skip the browser tests`,
    );
  }
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
}
