/**
 * `w.synced` means the peer holds the write durably. A write made before its replica first meets a peer travels by
 * anti-entropy (a repair frame), not by the log stream; the run's end told the writer the peer held its state as of
 * the run's start — before the peer had stored the repair frames it was sent. A client that went away then, with the
 * relay restarted from its disk, lost writes whose `synced` had resolved (found by a helper's adversarial hunt against
 * a relay on file storage: 118–125 of 160 writes). The run's end now waits for the peer's acknowledgement of every
 * repair frame it was sent, which the peer gives once the frame's states are durable.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { volatileStorage } from '../support/volatile-storage.js';
import { until } from './support.js';

describe('w.synced after anti-entropy', () => {
  it('resolves only once the peer made the repaired writes durable, and the status waits too', async () => {
    const storage = volatileStorage();
    const peer = await openReplica({ storage });
    for (let i = 0; i < 30; i++) await peer.space('s').put(`held/${i}`, i); // so the first meeting repairs by anti-entropy
    // The peer leads the run (the smaller replicaId does), so both sides' turns are through before the peer, whose
    // stores never become durable here, waits on its first join of a repair frame (its reading stops there).
    let writer = await openReplica({ storage: memoryStorage() });
    while (writer.replicaId < peer.replicaId) {
      await writer.close();
      writer = await openReplica({ storage: memoryStorage() });
    }
    const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => writer.space('s').put(`w/${i}`, 'x'.repeat(100) + i)));
    const resolved = new Set<number>();
    writes.forEach((w, i) => void w.synced.then(() => resolved.add(i)));
    let ran = 0;
    writer.on('antiEntropy', () => ran++);
    storage.autoFlush = false; // the peer applies what it receives, and makes it durable only on flush()
    const [ta, tb] = pairTransports();
    writer.connect(ta, { antiEntropyInterval: 0 });
    peer.connect(tb, { antiEntropyInterval: 0 });
    try {
      await until(async () => ran > 0 && (await peer.space('s').get('w/19')) !== undefined && (await peer.space('s').get('w/0')) !== undefined, 'the run ended and the peer applied the writes');
      await new Promise((r) => setTimeout(r, 100));
      expect(resolved.size, 'writes reported synced while the peer held none of them durably').toBe(0);
      expect(writer.status).not.toBe('synced');
      expect(writer.pending).toBe(20);
      storage.autoFlush = true;
      storage.flush();
      await until(() => resolved.size === 20 && writer.status === 'synced', 'synced once durable');
      // And what a crash of the peer leaves holds every one of them.
      const after = await openReplica({ storage: await storage.crashed() });
      for (let i = 0; i < 20; i++) expect((await after.space('s').get(`w/${i}`))?.value).toBe('x'.repeat(100) + i);
      await after.close();
    } finally {
      await Promise.all([writer.close(), peer.close()]);
    }
  });

});
