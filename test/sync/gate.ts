/**
 * A transport wrapper for tests: records the frames this side sends and can hold them back (they go, in order, on
 * `release`), drop them, or close the connection with frames still held (a connection dropped mid-stream).
 */
import type { Connection, Frame, Transport } from '../../lib/index.js';

export interface Gate {
  readonly transport: Transport;
  /** Every frame this side sent (held ones included), in order. */
  readonly sent: Uint8Array[];
  hold(): void;
  /** Sends what was held and stops holding. */
  release(): void;
  /** Closes the connection; frames still held are lost with it. */
  drop(): void;
  /** Drops the connection and keeps this side from reconnecting until `online()`. */
  offline(): void;
  online(): void;
  readonly held: number;
}

export function gate(inner: Transport): Gate {
  const sent: Uint8Array[] = [];
  let holding = false;
  let held: Frame[] = [];
  let conn: Connection | undefined;
  let away: Promise<void> | undefined;
  let back: (() => void) | undefined;
  const drop = () => {
    held = [];
    holding = false;
    conn?.close(1006, 'dropped');
  };
  return {
    sent,
    get held() {
      return held.length;
    },
    hold: () => void (holding = true),
    release() {
      holding = false;
      const out = held;
      held = [];
      for (const f of out) conn?.send(f);
    },
    drop,
    offline() {
      away ??= new Promise<void>((resolve) => (back = resolve));
      drop();
    },
    online() {
      away = undefined;
      back?.();
    },
    transport: {
      ...inner,
      label: inner.label,
      async open(handlers) {
        while (away) await away;
        const c = await inner.open(handlers);
        conn = c;
        return {
          ...c,
          get bufferedAmount() {
            return c.bufferedAmount;
          },
          send(f: Frame) {
            sent.push(f as Uint8Array);
            if (holding) held.push(f);
            else c.send(f);
          },
          close: (code?: number, reason?: string) => c.close(code, reason),
        };
      },
    },
  };
}
