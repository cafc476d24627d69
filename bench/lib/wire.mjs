/**
 * Counting what crosses the wire: a recording wrapper for Concord transports, WebSocket framing overhead,
 * and round trips from the order of messages.
 */
import net from 'node:net';

/** Bytes a WebSocket frame adds around a payload (RFC 6455): header, extended length, mask from clients. */
export function wsFraming(payload, fromClient) {
  const header = payload < 126 ? 2 : payload < 65536 ? 4 : 10;
  return header + (fromClient ? 4 : 0);
}

/**
 * Wraps a transport so every frame sent is logged as { who, type, bytes } (bytes with WebSocket framing;
 * `client` says whether this side would mask, as a browser or Node client does).
 */
export function recording(transport, who, log, { client }) {
  return {
    ...transport,
    label: transport.label,
    async open(handlers) {
      const conn = await transport.open(handlers);
      return {
        ...conn,
        send(frame) {
          const n = typeof frame === 'string' ? Buffer.byteLength(frame) : frame.byteLength;
          const type = typeof frame === 'string' ? 0 : frame[0];
          log.push({ who, type, bytes: n + wsFraming(n, client), signal: isSignal(frame) });
          conn.send(frame);
        },
        close: (code, reason) => conn.close(code, reason),
      };
    },
  };
}

/** Concord's frame types: ACK, CHANGES, EPOCHS (lib/sync/messages.ts MsgType). */
const ACK = 4;
const CHANGES = 3;
const EPOCHS = 17;

/**
 * A frame nobody waits for: an ACK, an empty CHANGES (a cursor advanced past echoes), or an EPOCHS frame (protocol 11:
 * chain records the receiver learns; it answers nothing, and goes right before the frame that needs it, in the same
 * turn — lib/sync/epoch-chain.ts — so that frame, not the chain, is what the peer answers).
 */
export function isSignal(frame) {
  const type = frame[0];
  return type === ACK || type === EPOCHS || (type === CHANGES && changesCount(frame) === 0);
}

/** Entries in a Concord CHANGES frame: type, space (length-prefixed), upTo, base time, then the count. */
function changesCount(frame) {
  let at = 1;
  const varint = () => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = frame[at++];
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
  };
  at += varint(); // the space name
  varint(); // upTo
  varint(); // base time
  return varint();
}

/**
 * Round trips: a turn is a run of messages from one side; every turn after the first answers the other
 * side, so a sync of t turns waited t − 1 times, and round trips are those waits over two, rounded up.
 * Signals nobody waits for are left out (`isSignal`): Concord's ACKs, its empty CHANGES (a cursor advanced past
 * echoes), which in one process can be sent after a data frame arrived without answering it, and its EPOCHS frames.
 */
export function roundTrips(log) {
  let turns = 0;
  let last;
  for (const m of log) {
    if (m.signal) continue;
    if (m.who !== last) turns++;
    last = m.who;
  }
  return Math.max(1, Math.ceil((turns - 1) / 2));
}

export function until(cond, ms = 600_000) {
  const end = Date.now() + ms;
  return new Promise((resolve, reject) => {
    const poll = () => (cond() ? resolve() : Date.now() > end ? reject(new Error('timed out')) : setTimeout(poll, 2));
    poll();
  });
}

/** A small seeded PRNG (mulberry32) for picking scattered keys. */
export function prng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `d` distinct indexes in [0, n), scattered. */
export function scattered(n, d, seed) {
  const random = prng(seed);
  const out = new Set();
  while (out.size < Math.min(d, n)) out.add(Math.floor(random() * n));
  return [...out];
}

/**
 * Calls `onFrame(socket, { opcode, bytes, masked })` for each WebSocket data frame (text or binary) written to any TCP
 * socket of this thread, as its header is written: whether ws's sender wrote it (a header, then the bytes) or the relay
 * wrote the frame whole (adapters/relay/socket.ts), which a hook on ws's `send` does not see. `bytes`: the payload's
 * length; `masked`: a client's frame. Strings written (the HTTP upgrade) are not frames and are passed over. Returns the
 * function that takes the hook off.
 */
export function tapWebSocketFrames(onFrame) {
  const state = new WeakMap(); // socket → { rest: payload bytes still to pass, head: a header cut short }
  const write = net.Socket.prototype.write;
  net.Socket.prototype.write = function (chunk, ...rest) {
    if (chunk instanceof Uint8Array) scan(this, chunk);
    return write.call(this, chunk, ...rest);
  };
  function scan(socket, chunk) {
    let s = state.get(socket);
    if (!s) state.set(socket, (s = { rest: 0, head: undefined }));
    const buf = s.head ? Buffer.concat([s.head, chunk]) : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    s.head = undefined;
    let at = 0;
    while (at < buf.length) {
      if (s.rest > 0) {
        const take = Math.min(s.rest, buf.length - at);
        s.rest -= take;
        at += take;
        continue;
      }
      const left = buf.length - at;
      const n7 = left >= 2 ? buf[at + 1] & 0x7f : 0;
      const masked = left >= 2 && (buf[at + 1] & 0x80) !== 0;
      const head = 2 + (n7 === 126 ? 2 : n7 === 127 ? 8 : 0) + (masked ? 4 : 0);
      if (left < 2 || left < head) {
        s.head = Buffer.from(buf.subarray(at));
        return;
      }
      const bytes = n7 === 126 ? buf.readUInt16BE(at + 2) : n7 === 127 ? Number(buf.readBigUInt64BE(at + 2)) : n7;
      const opcode = buf[at] & 0x0f;
      if (opcode === 1 || opcode === 2) onFrame(socket, { opcode, bytes, masked });
      at += head;
      s.rest = bytes;
    }
  }
  return () => {
    net.Socket.prototype.write = write;
  };
}
