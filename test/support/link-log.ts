// Links whose ends record their frames, for the tests of what protocol 11 sends of epoch chains: what each end sent
// and received, how its connection closed, and the EPOCHS frames among what it sent.
import type { EpochRecord } from '../../lib/epoch-points.js';
import { pairTransports, type Link, type Replica } from '../../lib/index.js';
import { Reader } from '../../lib/sync/codec.js';
import { readChain } from '../../lib/sync/epoch-chain.js';
import { MsgType } from '../../lib/sync/messages.js';
import type { Connection, ConnectionHandlers, Transport } from '../../lib/transport.js';

/** Every frame one end sent (`out`) and received (`in`), in order, and how its connections closed. */
export interface LinkLog {
  out: Uint8Array[];
  in: Uint8Array[];
  closes: string[];
}

export const linkLog = (): LinkLog => ({ out: [], in: [], closes: [] });

/** `inner`, recording into `log` what this end sends and receives and how it closes. */
export function recorded(inner: Transport, log: LinkLog): Transport {
  return {
    ...inner,
    async open(handlers: ConnectionHandlers): Promise<Connection> {
      const conn = await inner.open({
        ...handlers,
        onMessage: (f) => (typeof f !== 'string' && log.in.push(f), handlers.onMessage(f)),
        onClose: (code, reason) => (log.closes.push(`${code} ${reason}`), handlers.onClose(code, reason)),
      });
      return { ...conn, send: (f) => (typeof f !== 'string' && log.out.push(f), conn.send(f)), close: (c, r) => conn.close(c, r) };
    },
  };
}

/** Two replicas that both dial (each connects its end of a pair): neither hello can say what the other holds. */
export function dialingPair(a: Replica, b: Replica, links: Link[]): { atA: LinkLog; atB: LinkLog } {
  const [ta, tb] = pairTransports();
  const atA = linkLog();
  const atB = linkLog();
  links.push(a.connect(recorded(ta, atA), { antiEntropyInterval: 0 }), b.connect(recorded(tb, atB), { antiEntropyInterval: 0 }));
  return { atA, atB };
}

/** Closes `links` (emptied) and lets their ends see it. */
export async function closeLinks(links: Link[]): Promise<void> {
  for (const l of links.splice(0)) l.close();
  await new Promise((r) => setTimeout(r, 10));
}

/** The records of each EPOCHS frame among `frames`. */
export const epochFrames = (frames: readonly Uint8Array[]): EpochRecord[][] =>
  frames.filter((f) => f[0] === MsgType.Epochs).map((f) => readChain(new Reader(f.subarray(1))));
