/**
 * `broadcastChannelTransport(channel, self, peer)`: a point-to-point Transport between two replicas of one
 * browser (or one Node process) over a BroadcastChannel, e.g. two `?device=` replicas in two tabs.
 *
 * A BroadcastChannel reaches every listener of its name, so each message names its sender, its receiver
 * and the connection it belongs to; a connection is opened by a handshake (open → accept) and frames of an
 * older connection are ignored. Frames are delivered in order (BroadcastChannel keeps per-sender order).
 */
import type { Connection, ConnectionHandlers, Frame, Transport } from '../../lib/transport.js';

type Msg =
  | { t: 'open' | 'accept'; from: string; to: string; cid: string }
  | { t: 'frame'; from: string; to: string; cid: string; data: Frame }
  | { t: 'close'; from: string; to: string; cid: string; code: number; reason: string };

export interface BroadcastChannelTransportOptions {
  /** Token to present (when the peer authenticates). */
  token?: string | (() => string | Promise<string>);
}

export function broadcastChannelTransport(channel: string, self: string, peer: string, options: BroadcastChannelTransportOptions = {}): Transport {
  if (typeof BroadcastChannel !== 'function') throw new Error('BroadcastChannel is not available here');
  if (self === peer) throw new Error('broadcastChannelTransport: self and peer must differ');
  return {
    label: `broadcast:${channel}:${peer}`,
    ...(options.token !== undefined ? { token: options.token } : {}),
    open: (handlers) => openConnection(channel, self, peer, handlers),
  };
}

function openConnection(channel: string, self: string, peer: string, handlers: ConnectionHandlers): Promise<Connection> {
  const bc = new BroadcastChannel(channel);
  const mine = Math.random().toString(36).slice(2);
  let cid: string | undefined;
  let closed = false;
  return new Promise<Connection>((resolve) => {
    const finish = (code: number, reason: string, notify: boolean) => {
      if (closed) return;
      closed = true;
      if (notify && cid) bc.postMessage({ t: 'close', from: self, to: peer, cid, code, reason } satisfies Msg);
      bc.close();
      handlers.onClose(code, reason);
    };
    const connection: Connection = {
      send(data) {
        if (!closed && cid) bc.postMessage({ t: 'frame', from: self, to: peer, cid, data } satisfies Msg);
      },
      close(code = 1000, reason = '') {
        finish(code, reason, true);
      },
    };
    bc.onmessage = (ev: MessageEvent<Msg>) => {
      const m = ev.data;
      if (!m || m.to !== self || m.from !== peer || closed) return;
      if (m.t === 'open' && cid === undefined) {
        // The peer opened first: join its connection.
        cid = m.cid;
        bc.postMessage({ t: 'accept', from: self, to: peer, cid } satisfies Msg);
        resolve(connection);
      } else if (m.t === 'accept' && cid === undefined && m.cid === mine) {
        cid = mine;
        resolve(connection);
      } else if (m.t === 'frame' && m.cid === cid) {
        handlers.onMessage(m.data);
      } else if (m.t === 'close' && m.cid === cid) {
        finish(m.code, m.reason, false);
      } else if (m.t === 'open' && cid !== undefined && m.cid !== cid) {
        // The peer started over (it lost our connection): this one is gone.
        finish(1001, 'peer reconnected', false);
      }
    };
    bc.postMessage({ t: 'open', from: self, to: peer, cid: mine } satisfies Msg);
  });
}
