/**
 * A transport whose connections a replica's `accept` serves in this thread (the floor benches' fan-out without
 * sockets): frames cross in a microtask, in order. `sent`, if given, is told of every frame the client sends.
 */
export function memoryTransport(relay, sent) {
  return {
    label: 'memory',
    reconnect: false,
    async open(handlers) {
      let closed = false;
      let server;
      const end = (code, reason) => {
        if (closed) return;
        closed = true;
        queueMicrotask(() => {
          server.onClose(code, reason);
          handlers.onClose(code, reason);
        });
      };
      const toClient = { send: (f) => void (!closed && queueMicrotask(() => !closed && handlers.onMessage(f))), close: end };
      server = relay.accept(toClient, { authenticate: () => ({ rights: () => 'write' }) });
      return { send: (f) => void (sent?.(f), !closed && queueMicrotask(() => !closed && server.onMessage(f))), close: end };
    },
  };
}

/**
 * S7's fan-out over these connections: `n` client replicas of build `C` (`C`: the library's index, as imported), each
 * subscribed to every key of `space`, and a writer, all connected to `relay`, once every one is synced. `one(i)` writes
 * the i-th key with `value(i)` and settles once every client saw it; `synced()` once all are synced again. `sent`, if
 * given, is told of every frame a client sends.
 */
export async function memoryFanout(C, relay, { space, clients: n, value, sent }) {
  let waiting;
  let seen = 0;
  const clients = [];
  for (let c = 0; c < n; c++) {
    const x = await C.openReplica({ storage: C.memoryStorage() });
    x.space(space).subscribe('*', () => {
      if (++seen === n) waiting?.();
    });
    x.connect(memoryTransport(relay, sent));
    clients.push(x);
  }
  const writer = await C.openReplica({ storage: C.memoryStorage() });
  const s = writer.space(space);
  writer.connect(memoryTransport(relay));
  const synced = async () => {
    while (writer.status !== 'synced' || !clients.every((x) => x.status === 'synced')) await new Promise((res) => setTimeout(res, 5));
  };
  await synced();
  const one = async (i) => {
    seen = 0;
    const all = new Promise((res) => (waiting = res));
    await s.put(`k${i}`, value(i));
    await all;
  };
  return { clients, writer, one, synced };
}
