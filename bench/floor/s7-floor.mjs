/**
 * S7's floor: what delivering one small message from a writer through a WebSocket server to 100 clients costs on
 * this machine with nothing else done, in S7's topology (server and writer in the main thread, the clients in two
 * worker threads of 50), beside the scenario's own figures measured in the same run.
 * - broadcast: a bare `ws` server sends each message the writer sends to every client; a client only reads it
 *   (the least any relay does: y-websocket's protocol adds the Yjs update's decoding and applying to it);
 * - broadcast + ack: each client also answers every delivery with a 12-byte message the server reads (what
 *   Concord's protocol adds on the wire: the acknowledgement that moves the relay's cursor for that client);
 * - then S7 itself (Concord's relay and clients, y-websocket's server and clients), as `npm run bench -- S7` runs it.
 * Latency: the writer sends one message, waits until all 100 clients have it, repeats (p50/p99 of 400).
 * Run: `node bench/floor/s7-floor.mjs` (after `npm run build`).
 */
import { createServer } from 'node:http';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { WebSocket, WebSocketServer } from 'ws';

const CLIENTS = 100;
const WORKERS = 2;
const WRITES = 400;
const PAYLOAD = 120; // about a CHANGES frame of one small record
const now = () => performance.timeOrigin + performance.now();

if (!isMainThread) {
  const { url, count, ack } = workerData;
  const seen = new Map();
  const sockets = [];
  const reply = Buffer.alloc(12, 7);
  await Promise.all(
    Array.from({ length: count }, () => new Promise((resolve, reject) => {
      const ws = new WebSocket(url);
      ws.binaryType = 'nodebuffer';
      ws.on('open', () => {
        ws.send(Buffer.from('c'));
        resolve();
      });
      ws.on('error', reject);
      ws.on('message', (data) => {
        const i = data.readUInt32LE(0);
        if (ack) ws.send(reply);
        const c = (seen.get(i) ?? 0) + 1;
        if (c === count) {
          seen.delete(i);
          parentPort.postMessage({ i, at: now() });
        } else seen.set(i, c);
      });
      sockets.push(ws);
    })),
  );
  parentPort.postMessage({ ready: true });
  parentPort.on('message', (m) => {
    if (m === 'close') {
      for (const s of sockets) s.close();
      parentPort.postMessage({ closed: true });
    }
  });
} else {
  const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];

  async function floor(ack) {
    const server = createServer();
    const wss = new WebSocketServer({ server });
    const clients = new Set();
    let acks = 0;
    wss.on('connection', (ws) => {
      ws.once('message', (first) => {
        if (first.toString() === 'c') {
          clients.add(ws);
          ws.on('message', () => acks++);
        } else {
          ws.on('message', (m) => {
            for (const c of clients) c.send(m);
          });
        }
      });
    });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const url = `ws://127.0.0.1:${server.address().port}`;
    const arrivals = new Map();
    const waiters = new Map();
    const workers = [];
    await Promise.all(Array.from({ length: WORKERS }, () => new Promise((resolve, reject) => {
      const w = new Worker(new URL(import.meta.url), { workerData: { url, count: CLIENTS / WORKERS, ack } });
      workers.push(w);
      w.on('error', reject);
      w.on('message', (m) => {
        if (m.ready) return resolve();
        if (m.i === undefined) return;
        const a = arrivals.get(m.i) ?? [0, 0];
        a[0]++;
        a[1] = Math.max(a[1], m.at);
        arrivals.set(m.i, a);
        if (a[0] === WORKERS) waiters.get(m.i)?.(a[1]);
      });
    })));
    while (clients.size < CLIENTS) await new Promise((r) => setTimeout(r, 5));
    const writer = new WebSocket(url);
    await new Promise((r) => writer.on('open', r));
    writer.send(Buffer.from('w'));
    await new Promise((r) => setTimeout(r, 50));
    const lat = [];
    for (let i = 0; i < WRITES + 20; i++) {
      const msg = Buffer.alloc(PAYLOAD, 1);
      msg.writeUInt32LE(i, 0);
      const seen = new Promise((r) => waiters.set(i, r));
      const t0 = now();
      writer.send(msg);
      const at = await seen;
      if (i >= 20) lat.push(at - t0); // the first 20 warm up
    }
    lat.sort((a, b) => a - b);
    writer.close();
    await Promise.all(workers.map((w) => new Promise((resolve) => {
      w.on('message', (m) => m.closed && resolve());
      w.postMessage('close');
    })));
    await Promise.all(workers.map((w) => w.terminate()));
    wss.close();
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    if (ack && acks < WRITES * CLIENTS) throw new Error(`S7 floor: ${acks} acks for ${WRITES * CLIENTS} deliveries`);
    return { p50: percentile(lat, 50), p99: percentile(lat, 99) };
  }

  const fmt = (x) => x.toFixed(2).padStart(7);
  const bare = await floor(false);
  const acked = await floor(true);
  console.log(`broadcast only          p50 ${fmt(bare.p50)} ms   p99 ${fmt(bare.p99)} ms`);
  console.log(`broadcast + ack         p50 ${fmt(acked.p50)} ms   p99 ${fmt(acked.p99)} ms`);
  const { run } = await import('../scenarios/s7-relay-fanout.mjs');
  const { rows } = await run({ quick: false });
  for (const r of rows) console.log(`S7 ${r.case.padEnd(38)} concord ${String(r.concord).padStart(8)}   y-websocket ${String(r.peers.yjs).padStart(8)} ${r.metric}`);
  process.exit(0);
}
