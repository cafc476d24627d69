/**
 * `pairTransports()`: two linked in-memory transports, for replicas in one process (tests, workers).
 * Each side's `open()` waits for the other side's, then both get one connection of a pair; after a drop
 * both may open again (a reconnect). Frames are delivered asynchronously, in order; closing delivers
 * what was already sent, then the close. `stats` counts what each side sent.
 */
import type { Connection, ConnectionHandlers, Frame, Transport } from '../transport.js';

export interface PairStats {
  frames: number;
  bytes: number;
}

export interface PairTransport extends Transport {
  readonly stats: PairStats;
}

interface Pending {
  handlers: ConnectionHandlers;
  resolve: (c: Connection) => void;
}

export function pairTransports(options: { maxFrameBytes?: number } = {}): [PairTransport, PairTransport] {
  const waiting: Array<Pending | undefined> = [undefined, undefined];
  const stats: [PairStats, PairStats] = [
    { frames: 0, bytes: 0 },
    { frames: 0, bytes: 0 },
  ];

  const connect = () => {
    const [a, b] = waiting;
    if (!a || !b) return;
    waiting[0] = waiting[1] = undefined;
    let closed = false;
    const queues: Array<Array<Frame | { code: number; reason: string }>> = [[], []];
    const scheduled = [false, false];
    const deliver = (to: 0 | 1) => {
      scheduled[to] = false;
      const q = queues[to]!;
      const target = to === 0 ? a : b;
      while (q.length) {
        const item = q.shift()!;
        if (typeof item === 'string' || item instanceof Uint8Array) target.handlers.onMessage(item);
        else {
          target.handlers.onClose(item.code, item.reason);
          q.length = 0;
        }
      }
    };
    const enqueue = (to: 0 | 1, item: Frame | { code: number; reason: string }) => {
      queues[to]!.push(item);
      if (!scheduled[to]) {
        scheduled[to] = true;
        queueMicrotask(() => deliver(to));
      }
    };
    const side = (me: 0 | 1): Connection => {
      const other: 0 | 1 = me === 0 ? 1 : 0;
      return {
        send(frame) {
          if (closed) return;
          stats[me].frames++;
          stats[me].bytes += typeof frame === 'string' ? frame.length : frame.byteLength;
          enqueue(other, frame);
        },
        close(code = 1000, reason = '') {
          if (closed) return;
          closed = true;
          enqueue(other, { code, reason });
          enqueue(me, { code, reason });
        },
        bufferedAmount: 0,
        ...(options.maxFrameBytes ? { maxFrameBytes: options.maxFrameBytes } : {}),
      };
    };
    a.resolve(side(0));
    b.resolve(side(1));
  };

  const id = Math.random().toString(36).slice(2, 10);
  const transport = (me: 0 | 1): PairTransport => ({
    label: `pair:${id}:${me}`,
    stats: stats[me],
    open(handlers) {
      return new Promise<Connection>((resolve) => {
        waiting[me] = { handlers, resolve };
        connect();
      });
    },
  });
  return [transport(0), transport(1)];
}
