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
