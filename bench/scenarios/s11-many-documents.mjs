/**
 * S11 — a space of N = 10 000 small documents (Yjs documents held as values, concord/yjs) on one connection. A
 * follower synced with them goes offline while E = 100 of them get a one-character edit elsewhere, then reconnects:
 * the bytes on its wire both ways until it is caught up, hello included. Then an idle reconnect (nothing changed).
 *
 * Beside Hocuspocus 2 (server in memory, storing each document's state as it unloads it; the follower multiplexes one HocuspocusProvider per document over one
 * HocuspocusProviderWebsocket, as Hocuspocus recommends for many documents), counted the same way: every frame on
 * the follower's socket both ways with WebSocket framing, from reopening the socket until every provider reports
 * synced and the edits arrived. Hocuspocus 3/4 need Node 22; automerge-repo was not tried (its cbor-x dependency
 * has a native build step).
 *
 * Targets (BENCHMARKS.md): ≤ 25 KB after the 100 edits, ≤ 2 KB idle. Without deltas each edited document travels
 * whole (they are small here, so this is about per-document overhead, not deltas).
 * Alone: `node bench/scenarios/s11-many-documents.mjs [--quick]` (needs the build).
 */
import { WebSocket } from 'ws';
import * as Y from 'yjs';
import { memoryStorage, openReplica } from 'concord';
import { createRelay } from 'concord/relay';
import { webSocketTransport } from 'concord/ws';
import { flushDoc, openDoc, yjsValue } from 'concord/yjs';
import { countingTransport, sleep, waitFor } from '../lib/docs.mjs';
import { envInt, progress } from '../lib/measure.mjs';
import { rowMaker } from '../lib/row.mjs';
import { wsFraming } from '../lib/wire.mjs';

export const id = 'S11';
export const title = 'many small documents on one connection: reconnect after edits, idle reconnect';

const row = rowMaker(id);

const docText = (i) => `Document ${i}: a short note.`;
const edited = (n, e) => Array.from({ length: e }, (_, j) => Math.floor((j * n) / e));

async function concord(n, e) {
  const relay = await createRelay({ port: 0, host: '127.0.0.1', log: false });
  const writer = await openReplica({ storage: memoryStorage() });
  const follower = await openReplica({ storage: memoryStorage() });
  const ws = writer.space('docs');
  follower.space('docs');
  writer.connect(webSocketTransport(relay.url));
  for (let i = 0; i < n; i += 500) {
    await Promise.all(
      Array.from({ length: Math.min(500, n - i) }, (_, j) => {
        const d = new Y.Doc();
        d.getText('body').insert(0, docText(i + j));
        return ws.put(`d/${i + j}`, yjsValue(Y.encodeStateAsUpdate(d)));
      }),
    );
  }
  let link = follower.connect(webSocketTransport(relay.url));
  // Both 'synced' is not yet every document on the follower: the relay may still be streaming the writer's last
  // frames to it (they reached the relay after the follower's hello; the follower caught up to what the relay held
  // then). So wait for the documents themselves, and fail only if they do not all arrive.
  const held = async () => {
    let keys = 0;
    for await (const _ of follower.space('docs').scan('d/')) keys++;
    return keys;
  };
  await waitFor(() => writer.status === 'synced' && follower.status === 'synced', 'initial sync');
  await waitFor(async () => (await held()) === n, 'every document on the follower', 30_000).catch(async () => {
    throw new Error(`follower holds ${await held()} of ${n} documents`);
  });
  link.close();

  for (const i of edited(n, e)) {
    const doc = await openDoc(ws, `d/${i}`, { writeDelay: 0 });
    doc.getText('body').insert(0, '*');
    await flushDoc(doc);
    doc.destroy();
  }
  await waitFor(() => writer.status === 'synced', 'the edits at the relay');

  const measure = async (what, check) => {
    const counter = { sent: 0, received: 0, frames: 0 };
    link = follower.connect(countingTransport(webSocketTransport(relay.url), counter));
    await sleep(20);
    await waitFor(async () => follower.status === 'synced' && (await check()), `the follower caught up (${what})`);
    await sleep(200); // anything still trickling in (acks, presence) is counted too
    link.close();
    progress(`S11 concord ${what}: ${counter.sent + counter.received} B in ${counter.frames} frames`);
    return counter.sent + counter.received;
  };
  const firstEdited = `d/${edited(n, e).at(-1)}`;
  const hasEdit = async () => {
    const v = (await follower.space('docs').get(firstEdited))?.value;
    if (!v) return false;
    const d = new Y.Doc();
    Y.applyUpdate(d, v);
    return d.getText('body').toString().startsWith('*');
  };
  const afterEdits = await measure('after edits', hasEdit);
  const idle = await measure('idle', async () => true);
  await writer.close();
  await follower.close();
  await relay.close();
  return { afterEdits, idle };
}

async function hocuspocus(n, e, patience = 1) {
  const { Server } = await import('@hocuspocus/server');
  const { HocuspocusProvider, HocuspocusProviderWebsocket } = await import('@hocuspocus/provider');
  // The server keeps what it stores: Hocuspocus unloads a document when its last connection closes, and without a
  // store it would load it afresh next time (the seed text inserted again under a new client id, so a reconnecting
  // follower would receive every document whole, twice over, and the edit could land after the copy of the text).
  // Concord's relay keeps its space in memory storage; this is the same for Hocuspocus.
  const stored = new Map();
  const server = Server.configure({
    port: 0,
    address: '127.0.0.1',
    quiet: true,
    async onLoadDocument({ documentName, document }) {
      const state = stored.get(documentName);
      if (state) Y.applyUpdate(document, state);
      else {
        document.getText('body').insert(0, docText(Number(documentName.slice(2))));
        stored.set(documentName, Y.encodeStateAsUpdate(document)); // a change made while loading schedules no store
      }
      return document;
    },
    async onStoreDocument({ documentName, document }) {
      stored.set(documentName, Y.encodeStateAsUpdate(document));
    },
  });
  await server.listen();
  const url = `ws://127.0.0.1:${server.address.port}`;
  const counter = { bytes: 0, frames: 0 };
  let counting = false;
  class CountingSocket extends WebSocket {
    constructor(u) {
      super(u);
      this.setMaxListeners(0);
      this.on('error', () => {}); // a socket closed before it opened (teardown after a stall) is not a crash
      this.on('message', (d) => {
        if (!counting) return;
        const len = d.byteLength ?? d.length;
        counter.bytes += len + wsFraming(len, false);
        counter.frames++;
      });
    }
    send(data, ...rest) {
      if (counting) {
        const len = data.byteLength ?? data.length;
        counter.bytes += len + wsFraming(len, true);
        counter.frames++;
      }
      return super.send(data, ...rest);
    }
  }
  class QuietSocket extends WebSocket {
    constructor(u) {
      super(u);
      this.setMaxListeners(0);
      this.on('error', () => {});
    }
  }
  const socket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: CountingSocket, quiet: true });
  const docs = [];
  const providers = [];
  const writers = [];
  let wsocket;
  try {
    for (let i = 0; i < n; i++) {
      const doc = new Y.Doc();
      docs.push(doc);
      providers.push(new HocuspocusProvider({ websocketProvider: socket, name: `d/${i}`, document: doc, token: 'x' }));
      if (i % 1000 === 999) await sleep(0);
    }
    await waitFor(() => providers.every((p) => p.synced), 'hocuspocus initial sync', 120_000 * patience);
    progress('S11 hocuspocus: initial sync done');
    socket.disconnect();
    await sleep(200);

    // The edits, from another client.
    wsocket = new HocuspocusProviderWebsocket({ url, WebSocketPolyfill: QuietSocket, quiet: true });
    for (const i of edited(n, e)) {
      const doc = new Y.Doc();
      const p = new HocuspocusProvider({ websocketProvider: wsocket, name: `d/${i}`, document: doc, token: 'x' });
      writers.push({ doc, p });
    }
    await waitFor(() => writers.every((w) => w.p.synced), 'hocuspocus writers synced', 60_000 * patience);
    for (const w of writers) w.doc.getText('body').insert(0, '*');
    await waitFor(() => writers.every((w) => !w.p.hasUnsyncedChanges), 'hocuspocus edits stored', 60_000 * patience);
    progress('S11 hocuspocus: edits stored');
    await sleep(100);

    const measure = async (what, check) => {
      counter.bytes = counter.frames = 0;
      counting = true;
      for (const p of providers) p.synced = false; // reset; each provider reports synced again after its handshake
      await socket.connect();
      await waitFor(() => providers.every((p) => p.synced) && check(), `hocuspocus caught up (${what})`, 120_000 * patience);
      await sleep(200);
      counting = false;
      socket.disconnect();
      await sleep(100);
      progress(`S11 hocuspocus ${what}: ${counter.bytes} B in ${counter.frames} frames`);
      return counter.bytes;
    };
    const last = edited(n, e).at(-1);
    const afterEdits = await measure('after edits', () => docs[last].getText('body').toString().startsWith('*'));
    const idle = await measure('idle', () => true);
    return { afterEdits, idle };
  } finally {
    for (const w of writers) w.p.destroy();
    wsocket?.destroy();
    for (const p of providers) p.destroy();
    socket.destroy();
    await server.destroy();
  }
}

export async function run({ quick = false } = {}) {
  process.setMaxListeners(0);
  const n = quick ? 300 : envInt('BENCH_S11_DOCS', 10_000);
  const e = quick ? 10 : envInt('BENCH_S11_EDITS', 100);
  const c = await concord(n, e);
  let h;
  let hn = n;
  // Each size gets a second try, and above 1 000 documents a third at 1 000 (the note then says so): Hocuspocus 2
  // with thousands of providers on one socket has stalled here before. (The 'stall' seen at 300 documents on loaded
  // machines was this bench's own doing, fixed above: a document reloaded without a store got its seed text again,
  // and the edit could land after the copy the follower checked.)
  for (const size of n > 1000 ? [n, n, 1000] : [n, n]) {
    try {
      // Quick mode (CI, 300 documents that sync in ~3 s): a stalled try gives up after 12 s, so two fit the budget.
      h = await hocuspocus(size, e, quick ? 0.1 : 1);
      hn = size;
      break;
    } catch (err) {
      progress(`S11 hocuspocus at ${size} documents failed: ${err.message}`);
    }
  }
  const note = `${n} documents in one space, ${e} edited by one character while the follower was offline; both directions, WebSocket framing and hello included`;
  const peerNote = !h ? '; Hocuspocus did not complete (see the progress lines)' : hn === n ? '' : `; Hocuspocus measured at ${hn} documents (at ${n} its reconnect stalled)`;
  return {
    rows: [
      row({ case: `reconnect after ${e} edits`, metric: 'bytes', higherIsBetter: false, concord: c.afterEdits, peers: h ? { hocuspocus: h.afterEdits } : {}, note: `${note}; target ≤ 25 KB${peerNote}`, target: { atMost: 25_000 } }),
      row({ case: 'idle reconnect', metric: 'bytes', higherIsBetter: false, concord: c.idle, peers: h ? { hocuspocus: h.idle } : {}, note: `nothing changed; target ≤ 2 KB${peerNote}`, target: { atMost: 2_000 } }),
    ],
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { rows } = await run({ quick: process.argv.includes('--quick') });
  console.table(rows.map((r) => ({ case: r.case, concord: r.concord, ...r.peers })));
  process.exit(0);
}
