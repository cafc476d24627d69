/**
 * s7-engine.mjs's counterpart for Yjs: S7's fan-out without sockets, the work y-websocket's server (bin/utils.js) and
 * its clients (WebsocketProvider) do per message, all in this thread — the writer's update is framed as the provider
 * frames it, the server reads it into its doc (readSyncMessage), its update handler frames the update once and hands the
 * same bytes to every client, each client reads it into its doc (the provider's readMessage) and its map's observer sees
 * the key. Frames cross in a microtask, as bench/lib/memory-link.mjs hands Concord's over. What it shows: the CPU per
 * write of Yjs's own work at both ends, beside s7-engine.mjs's figure for Concord's relay, clients and writer; the rest of
 * S7's cost (the sockets: ws framing, the kernel's writes and reads, the event loop's wake-ups) both pay alike.
 * Run: `node bench/floor/s7-engine-yjs.mjs [--writes N] [--clients N]`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const Y = require('yjs');
const syncProtocol = require('y-protocols/sync');
const encoding = require('lib0/encoding');
const decoding = require('lib0/decoding');

const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const CLIENTS = Number(arg('--clients', 100));
const WRITES = Number(arg('--writes', 400));
const WARM = 50;
const MESSAGE_SYNC = 0;
const value = (i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i });

/** A sync message as both ends frame one: the message type, then the sync protocol's update. */
function frameUpdate(update) {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  syncProtocol.writeUpdate(encoder, update);
  return encoding.toUint8Array(encoder);
}
/** What each end does with a received message (y-websocket's readMessage / bin/utils.js messageListener). */
function read(doc, frame, origin) {
  const decoder = decoding.createDecoder(frame);
  const encoder = encoding.createEncoder();
  if (decoding.readVarUint(decoder) !== MESSAGE_SYNC) throw new Error('not a sync message');
  encoding.writeVarUint(encoder, MESSAGE_SYNC);
  syncProtocol.readSyncMessage(decoder, encoder, doc, origin);
  return encoding.length(encoder) > 1 ? encoding.toUint8Array(encoder) : undefined;
}

const server = new Y.Doc();
const clients = [];
let seen = 0;
let waiting;
for (let c = 0; c < CLIENTS; c++) {
  const doc = new Y.Doc();
  const origin = { client: c };
  doc.getMap('m').observe((e) => e.keysChanged.forEach(() => {
    if (++seen === CLIENTS) waiting?.();
  }));
  clients.push({ doc, origin });
}
// The server's update handler: one frame for all its connections (bin/utils.js updateHandler).
server.on('update', (update) => {
  const frame = frameUpdate(update);
  for (const c of clients) queueMicrotask(() => read(c.doc, frame, c.origin));
});
const writer = new Y.Doc();
const writerOrigin = { writer: true };
writer.on('update', (update, origin) => {
  if (origin === writerOrigin) return;
  const frame = frameUpdate(update);
  queueMicrotask(() => read(server, frame, writerOrigin));
});
const map = writer.getMap('m');

async function one(i) {
  seen = 0;
  const all = new Promise((r) => (waiting = r));
  map.set(`k${i}`, value(i));
  await all;
}
for (let i = 0; i < WARM; i++) await one(i);
const cpu0 = process.cpuUsage();
for (let i = WARM; i < WARM + WRITES; i++) await one(i);
const cpu = process.cpuUsage(cpu0);
console.log(`yjs: ${CLIENTS} clients, ${WRITES} writes: CPU per write ${((cpu.user + cpu.system) / 1000 / WRITES).toFixed(3)} ms (server, clients and writer)`);
