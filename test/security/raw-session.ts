/**
 * A hand-driven protocol session against a real relay, for attack tests: it opens a WebSocket, sends a
 * hello with any token and sync items, decodes the relay's hello (to learn its replicaId, which seeds
 * every later frame's string table), and then sends any message the attacker crafts, exactly as given.
 * Frames the relay sends are kept raw and decoded on demand.
 */
import { WebSocket } from 'ws';
import { randomId } from '../../lib/ids.js';
import { decodeMessage, encodeMessage, MsgType, type Hello, type Message, type SyncItem } from '../../lib/sync/messages.js';
import { RAW_VERSIONS } from '../support/raw-versions.js';

export interface RawSession {
  readonly ws: WebSocket;
  readonly replicaId: string;
  readonly epoch: string;
  /** The relay's hello (after `ready`). */
  relay?: Hello;
  /** Resolves once the relay's hello arrived; rejects when the connection closed first. */
  readonly ready: Promise<Hello>;
  /** Close code (or -HTTP status when the upgrade was refused). */
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly isClosed: boolean;
  /** Raw frames received, in order (the relay's hello first). */
  readonly frames: Uint8Array[];
  /** Bytes received so far. */
  readonly bytesIn: number;
  /** Sends a message through the session's string table (both replica ids seeded after the hellos). */
  send(m: Message): void;
  /** Sends raw bytes. */
  sendRaw(frame: Uint8Array | string): void;
  /** The frames after the hello, decoded (undecodable ones skipped). */
  messages(): Message[];
  close(): void;
}

export interface RawSessionOptions {
  token?: string;
  spaces?: SyncItem[];
  replicaId?: string;
  /** Our log top announced in the hello. */
  top?: number;
  headers?: Record<string, string>;
  /** Do not read from the socket (a slow consumer): the relay's send buffer fills. */
  paused?: boolean;
  /** The versions the hello announces (default RAW_VERSIONS): only those whose frames the test writes. */
  versions?: readonly number[];
  /** The epoch the hello announces (default: a fresh one), e.g. another replica's, to pose as it. */
  epoch?: string;
}

export function syncItem(space: string, overrides: Partial<SyncItem> = {}): SyncItem {
  return { space, cursorEpoch: '', cursorSeq: 0, top: 0, keys: 0, ...overrides };
}

export function rawSession(url: string, options: RawSessionOptions = {}): RawSession {
  const replicaId = options.replicaId ?? randomId();
  const epoch = options.epoch ?? randomId();
  const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 256 * 1024 * 1024, ...(options.headers ? { headers: options.headers } : {}) });
  const frames: Uint8Array[] = [];
  let bytesIn = 0;
  let isClosed = false;
  let relay: Hello | undefined;
  let onHello!: (h: Hello) => void;
  let onFail!: (e: Error) => void;
  const ready = new Promise<Hello>((resolve, reject) => {
    onHello = resolve;
    onFail = reject;
  });
  ready.catch(() => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.on('unexpected-response', (_req, res) => {
      isClosed = true;
      resolve({ code: -(res.statusCode ?? 0), reason: res.statusMessage ?? '' });
      onFail(new Error(`upgrade refused: ${res.statusCode}`));
      ws.terminate();
    });
    ws.on('close', (code, reason) => {
      isClosed = true;
      resolve({ code, reason: reason.toString() });
      onFail(new Error(`closed before the relay's hello: ${code} ${reason.toString()}`));
    });
  });
  ws.on('error', () => {});
  ws.on('message', (d) => {
    const f = new Uint8Array(d as Buffer);
    bytesIn += f.byteLength;
    frames.push(f);
    if (!relay) {
      try {
        const m = decodeMessage(f, { maxValueBytes: 1 << 30 });
        if (m.type === MsgType.Hello) {
          relay = m;
          session.relay = m;
          onHello(m);
        }
      } catch {
        // not a hello: ignored
      }
    }
  });
  ws.once('open', () => {
    if (options.paused) ws.pause();
    ws.send(
      encodeMessage({
        type: MsgType.Hello,
        versions: [...(options.versions ?? RAW_VERSIONS)],
        replicaId,
        epoch,
        top: options.top ?? 0,
        token: options.token ?? '',
        expect: '',
        history: [[epoch, 0]],
        spaces: options.spaces ?? [],
      }),
    );
  });
  const session: RawSession = {
    ws,
    replicaId,
    epoch,
    ready,
    closed,
    frames,
    get isClosed() {
      return isClosed;
    },
    get bytesIn() {
      return bytesIn;
    },
    send(m) {
      if (!relay) throw new Error('send before the relay hello');
      ws.send(encodeMessage(m, [replicaId, relay.replicaId]));
    },
    sendRaw(frame) {
      ws.send(frame);
    },
    messages() {
      const out: Message[] = [];
      if (!relay) return out;
      for (const f of frames.slice(1)) {
        try {
          out.push(decodeMessage(f, { maxValueBytes: 1 << 30, table: [relay.replicaId, replicaId] }));
        } catch {
          // skipped
        }
      }
      return out;
    },
    close() {
      ws.close();
    },
  };
  return session;
}
