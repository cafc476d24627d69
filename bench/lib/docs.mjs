/**
 * Helpers of the document scenarios (S10, S11): byte-counting transports and WebSocket servers, the editing trace,
 * and percentiles.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { wsFraming } from './wire.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
/** The automerge-paper trace (Martin Kleppmann, automerge-perf; via josephg/editing-traces; CC BY 4.0). */
export const TRACE_FILE = path.resolve(here, '../../../shared/data/automerge-paper.json.gz');

export function loadTrace() {
  if (!existsSync(TRACE_FILE)) return undefined;
  return JSON.parse(gunzipSync(readFileSync(TRACE_FILE)).toString('utf8'));
}

/** The text after the first `n` transactions of a trace (applied to a plain string). */
export function textAfter(trace, n) {
  let s = trace.startContent;
  for (let i = 0; i < n; i++) for (const [pos, del, ins] of trace.txns[i].patches) s = s.slice(0, pos) + ins + s.slice(pos + del);
  return s;
}

/** Applies one trace transaction to a Y.Text (in one Yjs transaction). */
export function applyTxn(ytext, txn) {
  ytext.doc.transact(() => {
    for (const [pos, del, ins] of txn.patches) {
      if (del > 0) ytext.delete(pos, del);
      if (ins) ytext.insert(pos, ins);
    }
  });
}

const size = (f) => (typeof f === 'string' ? Buffer.byteLength(f) : f.byteLength);

/**
 * Wraps a Concord transport so every frame both ways is counted in `counter` ({ sent, received, frames }), with the
 * WebSocket framing a client adds (masked) and receives.
 */
export function countingTransport(transport, counter) {
  return {
    ...transport,
    label: transport.label,
    async open(handlers) {
      const conn = await transport.open({
        ...handlers,
        onMessage(f) {
          counter.received += size(f) + wsFraming(size(f), false);
          counter.frames++;
          handlers.onMessage(f);
        },
      });
      return {
        ...conn,
        send(f) {
          counter.sent += size(f) + wsFraming(size(f), true);
          counter.frames++;
          conn.send(f);
        },
        close: (code, reason) => conn.close(code, reason),
      };
    },
  };
}

/** Wraps a `ws` server-side socket so what the server sends on it is counted (with framing). */
export function countServerSends(ws, counter) {
  const send = ws.send.bind(ws);
  ws.send = (data, ...rest) => {
    const n = data.byteLength ?? Buffer.byteLength(data);
    counter.received += n + wsFraming(n, false);
    counter.frames++;
    return send(data, ...rest);
  };
  ws.on('message', (data) => {
    const n = data.byteLength ?? data.length;
    counter.sent += n + wsFraming(n, true);
    counter.frames++;
  });
}

export function percentile(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function waitFor(cond, what, ms = 600_000) {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}
