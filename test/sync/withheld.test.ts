/**
 * A write the link cannot send is not synced. A key state over the frame limit goes to a peer of an earlier release
 * (no key parts) nowhere: the sender reports VALUE_TOO_LARGE and leaves the entry out of the log frame — but the frame
 * still said "up to u", the peer acknowledged u, and the writer counted the write synced (and nothing pending) while
 * the peer held nothing of it. The stream's note of what a frame carried (acks.ts `sentFrame`) was taken before the
 * wire left the entry out, too. Now a key left out of a frame is withheld: no acknowledgement counts it until its
 * record changes (the next state of it may go).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConcordError } from '../../lib/errors.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { until } from './support.js';

const FRAME = 16 * 1024;
const open: Replica[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function replica(): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
  r.space('s');
  open.push(r);
  return r;
}

describe('a write the link cannot send', () => {
  for (const how of ['streamed', 'repaired'] as const) {
    it(`is neither synced nor acknowledged while it stays unsendable (${how}), and syncs once rewritten`, async () => {
      const writer = await replica();
      const errors: unknown[] = [];
      writer.on('error', (e) => errors.push(e));
      const late = await replica();
      late.core.speaks = [5, 6, 7, 8, 9]; // takes no key in parts
      const connect = () => {
        const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
        return [writer.connect(ta, { antiEntropyInterval: 0 }), late.connect(tb, { antiEntropyInterval: 0 })];
      };
      let links = how === 'streamed' ? connect() : [];
      if (how === 'streamed') await until(() => writer.status === 'synced', 'linked');
      const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
      const other = await writer.space('s').put('other', 1);
      if (how === 'repaired') links = connect();
      let synced = false;
      void big.synced.then(() => (synced = true));
      await other.synced;
      await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
      await new Promise((r) => setTimeout(r, 50));
      expect(await late.space('s').get('big'), 'the peer holds nothing of big').toBeUndefined();
      expect(synced, 'big reported synced while the peer holds nothing of it').toBe(false);
      expect(big.durability).toBe('local');
      expect(writer.pending, 'big still pending').toBe(1);
      expect(writer.status).not.toBe('synced');
      await writer.space('s').put('big', 'small now');
      await until(async () => (await late.space('s').get('big'))?.value === 'small now', 'the rewrite reaches the peer');
      await until(() => synced && writer.pending === 0, 'big synced by the later state of its key');
      for (const l of links) l.close();
    });
  }

  it('stays withheld after the link closes: the next session to the same peer streams from past the key and sends nothing of it', async () => {
    const writer = await replica();
    const errors: unknown[] = [];
    writer.on('error', (e) => errors.push(e));
    const late = await replica();
    late.core.speaks = [5, 6, 7, 8, 9]; // takes no key in parts
    const connect = () => {
      const [ta, tb] = pairTransports({ maxFrameBytes: FRAME });
      return [writer.connect(ta, { antiEntropyInterval: 0 }), late.connect(tb, { antiEntropyInterval: 0 })];
    };
    let links = connect();
    await until(() => writer.status === 'synced', 'linked');
    const big = await writer.space('s').put('big', 'x'.repeat(30 * 1024));
    await (await writer.space('s').put('other', 1)).synced;
    await until(() => errors.some((e) => e instanceof ConcordError && e.code === 'VALUE_TOO_LARGE'), 'the report');
    for (const l of links) l.close();
    await until(() => writer.status !== 'synced' || writer.core.acks.ackedBy(late.replicaId, 's') === 0, 'the link is down');
    await new Promise((r) => setTimeout(r, 20));
    links = connect();
    await (await writer.space('s').put('after', 2)).synced; // the new session acknowledged our log past big's entry
    await new Promise((r) => setTimeout(r, 50));
    expect(await late.space('s').get('big'), 'the peer holds nothing of big').toBeUndefined();
    let synced = false;
    void big.synced.then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 50));
    expect(synced, 'big synced by the second session, which never carried it').toBe(false);
    expect(writer.pending, 'big still pending').toBe(1);
    expect(writer.status).not.toBe('synced');
    for (const l of links) l.close();
  });
});
