#!/usr/bin/env node
// The API reference, generated from the types with TypeDoc: `npm run docs` writes docs/api/ (not committed).
// `npm run docs -- --out DIR` writes elsewhere. Exits 1 on any TypeDoc error or warning, so a broken doc
// comment or an exported type that is not reachable fails CI (test/docs/typedoc.test.ts runs it).
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

register('./typescript-api-hook.mjs', import.meta.url);
const { Application, LogLevel } = await import('typedoc');

const root = fileURLToPath(new URL('..', import.meta.url));
const { values } = parseArgs({ options: { out: { type: 'string' } } });
const entryPoints = ['lib/index.ts', ...['fs', 'indexeddb', 'broadcast-channel', 'ws', 'relay', 'react'].map((a) => `adapters/${a}/index.ts`)];

const app = await Application.bootstrapWithPlugins({
  entryPoints: entryPoints.map((e) => root + e),
  tsconfig: root + 'tsconfig.build.json',
  out: values.out ?? root + 'docs/api',
  name: 'Concord',
  readme: root + 'README.md',
  excludePrivate: true,
  excludeInternal: true,
  excludeExternals: true,
  logLevel: LogLevel.Warn,
  treatWarningsAsErrors: true,
  validation: { notExported: false, invalidLink: true, notDocumented: false },
  githubPages: false,
  disableSources: true,
});
const project = await app.convert();
if (!project) process.exit(1);
await app.generateDocs(project, app.options.getValue('out'));
if (app.logger.hasErrors() || app.logger.hasWarnings()) process.exit(1);
console.log(`API reference written to ${app.options.getValue('out')}`);
