/**
 * A deferred ACK goes from a timer (ack-policy.ts). A transport whose send throws there (the socket went away) threw
 * out of the timer's callback: an uncaught exception — in Node, the process's end unless the app catches them all
 * (rev47d noticed it; no test made a client's send throw). Now the session's timers hand a throw to the session's
 * `fail`, as a send that throws while a frame is handled does: the link closes and comes back. Vitest reports an
 * uncaught exception as an error of the run, so the old code fails this file.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Connection, type ConnectionHandlers, type Transport } from '../../lib/index.js';
import { until } from '../sync/support.js';

/** `inner`, whose connection's sends throw while `armed` (counted in `thrown`). */
function throwing(inner: Transport): { transport: Transport; armed: { on: boolean }; thrown: { n: number } } {
  const armed = { on: false };
  const thrown = { n: 0 };
  const transport: Transport = {
    ...inner,
    label: 'throwing',
    async open(handlers: ConnectionHandlers): Promise<Connection> {
      const conn = await inner.open(handlers);
      return {
        ...conn,
        send(f) {
          if (armed.on) {
            armed.on = false;
            thrown.n++;
            throw new Error('the socket went away (test)');
          }
          conn.send(f);
        },
        close: (code, reason) => conn.close(code, reason),
      };
    },
  };
  return { transport, armed, thrown };
}

describe('a send that throws inside a session timer (a deferred ACK)', () => {
  it('fails the session, not the process: the reader reconnects and gets what was written after', async () => {
    // c writes; a passes c's writes on to b: frames b need not ACK at once (they hold no write of a's own).
    const open = () => openReplica({ storage: memoryStorage() });
    const [c, a, b] = await Promise.all([open(), open(), open()]);
    for (const x of [a, b, c]) x.space('s'); // a replica syncs the spaces it opened
    const [tc, tac] = pairTransports();
    const [tab, tb] = pairTransports();
    const r = throwing(tb);
    const opts = { antiEntropyInterval: 0, backoff: { base: 10, max: 50 } };
    const links = [a.connect(tac, opts), c.connect(tc, opts), a.connect(tab, opts), b.connect(r.transport, opts)];
    try {
      await until(() => [a, b, c].every((x) => x.status === 'synced'), 'linked');
      // Three frames one at a time, each given time for its deferred ACK (at most 1 in 16 frames is ACKed at once, in
      // the frame's handling): b's next send after each write throws, at least twice from the ACK timer.
      for (let i = 0; i < 3; i++) {
        await until(() => b.status === 'synced', `synced before write ${i}`);
        r.armed.on = true;
        await c.space('s').put(`k${i}`, i);
        await until(() => !r.armed.on, `b's send after write ${i}`);
        await new Promise((done) => setTimeout(done, 50));
      }
      expect(r.thrown.n).toBe(3);
      await c.space('s').put('after', 'yes');
      await until(async () => (await b.space('s').get('after'))?.value === 'yes', 'b back and caught up');
      for (let i = 0; i < 3; i++) expect((await b.space('s').get(`k${i}`))?.value).toBe(i);
    } finally {
      for (const l of links) l.close();
      await Promise.all([a.close(), b.close(), c.close()]);
    }
  });
});
