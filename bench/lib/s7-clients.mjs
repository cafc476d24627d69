/**
 * S7's client side, run in a worker thread: `count` clients of one system (Concord or Yjs) in one space.
 * When all of this worker's clients have seen a key, it posts { key, at } (at: absolute ms, sub-ms
 * precision, comparable across threads). Posts { ready: true } once every client is synced.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import { WebSocket } from 'ws';

const require = createRequire(import.meta.url);
const { system, url, docName, count, dist } = workerData;
/** `dist`: the build to load (a dist directory; s7-relay-cpu.mjs `--dist`), else this checkout's (`concord`). */
const concordModule = (sub) => import(dist ? pathToFileURL(path.join(dist, sub)).href : sub === 'lib/index.js' ? 'concord' : 'concord/ws');
const now = () => performance.timeOrigin + performance.now();
const seen = new Map();
const delivered = (key) => {
  const c = (seen.get(key) ?? 0) + 1;
  seen.set(key, c);
  if (c === count) parentPort.postMessage({ key, at: now() });
};
const until = (cond) => new Promise((resolve) => {
  const tick = () => (cond() ? resolve() : setTimeout(tick, 5));
  tick();
});

const closers = [];
if (system === 'concord') {
  const { memoryStorage, openReplica } = await concordModule('lib/index.js');
  const { webSocketTransport } = await concordModule('adapters/ws/index.js');
  const replicas = [];
  for (let c = 0; c < count; c++) {
    const r = await openReplica({ storage: memoryStorage() });
    r.space(docName).subscribe('*', (e) => delivered(e.key));
    r.connect(webSocketTransport(url));
    replicas.push(r);
  }
  await until(() => replicas.every((r) => r.status === 'synced'));
  closers.push(() => Promise.all(replicas.map((r) => r.close())));
} else {
  process.setMaxListeners(0);
  const Y = require('yjs');
  const { WebsocketProvider } = require('y-websocket');
  const providers = [];
  const synced = [];
  for (let c = 0; c < count; c++) {
    const doc = new Y.Doc();
    doc.getMap('m').observe((e) => e.keysChanged.forEach((k) => delivered(k)));
    const p = new WebsocketProvider(url, docName, doc, { WebSocketPolyfill: WebSocket, disableBc: true });
    providers.push(p);
    synced.push(new Promise((r) => p.once('synced', r)));
  }
  await Promise.all(synced);
  closers.push(async () => providers.forEach((p) => p.destroy()));
}
parentPort.postMessage({ ready: true });
parentPort.on('message', async (m) => {
  if (m === 'close') {
    for (const c of closers) await c();
    parentPort.postMessage({ closed: true });
  }
});
