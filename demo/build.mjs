#!/usr/bin/env node
/**
 * Bundles the demo app (demo/src/main.ts, the library included) for the browser into demo/dist/ with esbuild.
 * Run by `npm run build` (so `npm ci` leaves the demo ready) and by the browser tests; test/demo/bundle.test.ts
 * checks with the same options that the bundle reaches no Node built-in.
 */
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export const demoBuildOptions = {
  entryPoints: { app: here('./src/main.ts') },
  outdir: here('./dist'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  sourcemap: true,
  minify: false,
  // The WebSocket transport imports `ws` lazily and only in Node; browsers use the global WebSocket.
  external: ['ws'],
  logLevel: 'warning',
};

export async function buildDemo() {
  await build(demoBuildOptions);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await buildDemo();
}
