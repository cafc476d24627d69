/**
 * The Node WebSocket a client (and a relay's cluster link: cluster.ts uses webSocketTransport) opens, against a hostile
 * server: a message it has not read whole is buffered fragment by fragment and chunk by chunk, each costing ws some
 * 135–185 bytes however few bytes it brings. The relay bounds both for its clients (test/security/fragments.test.ts);
 * the socket it opens itself kept ws's defaults (16 384 fragments, 262 144 chunks a frame: ~48 MiB held a link for
 * 262 KiB sent). The same bounds now hold there: past them the socket closes 1008.
 */
import type { AddressInfo, Socket } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { openNodeSocket, type RawSocket } from '../../adapters/ws/sockets.js';
import { sleep, until } from './support.js';

const open: Array<() => void> = [];
afterAll(() => open.forEach((close) => close()));

/** A loopback server that runs `attack` on its first connection; the client's socket, and its close code (0: open). */
async function attacked(attack: (ws: WebSocket) => Promise<void>): Promise<{ code: () => number; serverSaw: () => number; done: Promise<void> }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false });
  await new Promise((r) => wss.once('listening', r));
  open.push(() => wss.close());
  let serverSaw = 0;
  let done!: Promise<void>;
  const connected = new Promise<void>((resolve) =>
    wss.once('connection', (ws) => {
      ws.on('close', (c) => (serverSaw = c));
      ws.on('error', () => {});
      open.push(() => ws.terminate());
      done = attack(ws);
      resolve();
    }),
  );
  let code = 0;
  const url = `ws://127.0.0.1:${(wss.address() as AddressInfo).port}`;
  const raw: RawSocket = await openNodeSocket(url, { maxPayload: 1 << 20, headers: undefined, handshakeTimeout: 5_000 }, {
    open: () => {},
    message: () => {},
    close: (c) => (code = c),
    error: () => {},
    pong: () => {},
  });
  open.push(() => raw.terminate());
  await connected;
  return { code: () => code, serverSaw: () => serverSaw, done };
}

describe('the Node socket a client opens, against a server splitting a message finely', () => {
  it('fragments: 4 096 of one byte (past MAX_FRAGMENTS, 1 024), closed 1008', async () => {
    const n = 4096;
    const c = await attacked(async (ws) => {
      for (let i = 0; i < n && ws.readyState === ws.OPEN; i++) {
        ws.send(Buffer.from([1]), { binary: true, fin: false });
        if (i % 100 === 99) await sleep(1);
      }
    });
    await c.done;
    await until(() => c.code() !== 0, 'the client closed its socket', 10_000).catch(() => {});
    expect(c.code()).not.toBe(0);
    expect(c.serverSaw()).toBe(1008);
  }, 30_000);

  it('one frame a byte a write: closed 1008 past its chunks', async () => {
    const c = await attacked(async (ws) => {
      const sock = (ws as unknown as { _socket: Socket })._socket;
      sock.setNoDelay(true);
      // An unmasked (server) binary frame announcing 1 MiB, then its bytes one write each (up to 20 000 of them).
      const head = Buffer.alloc(10);
      head[0] = 0x82;
      head[1] = 127;
      head.writeBigUInt64BE(BigInt(1 << 20), 2);
      sock.write(head);
      for (let i = 0; i < 20_000 && !sock.destroyed && ws.readyState === ws.OPEN; i++) {
        sock.write(Buffer.from([0]));
        await new Promise((r) => setImmediate(r));
      }
    });
    await c.done;
    await until(() => c.code() !== 0, 'the client closed its socket', 10_000).catch(() => {});
    expect(c.code()).not.toBe(0);
  }, 60_000);
});
