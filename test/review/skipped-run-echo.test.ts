/**
 * An anti-entropy run that left a key out confirms nothing at its end (b5a78b9): the first acknowledgement of the log
 * stream past the run's top confirms what the run carried. Where the key left out is the peer's own state — joined
 * here, exactly as the peer holds it, and not durable yet when the run read the tree — its record is an echo the stream
 * never sends, and with nothing else written no frame goes past the top: the writes the run carried, which the peer
 * acknowledged storing, stayed pending for good (the soak at 11, withheld 1736500024: e's k6 went to relay a in e's
 * first run under its new id, which left out k3, a's state joined as the session came up; e counted k6 pending with
 * every node holding it).
 *
 * A key a run left out now goes on the stream once it settles, echo or not (outgoing.ts `owed`): the peer's
 * acknowledgement of that frame counts the log up to there held, as it does for any frame past the run's top. (Written
 * by `w024` for its own fix, an empty frame past the echoes; `ae0`'s, which also covers a peer that lost the state since,
 * was merged — these cases on real replicas pass with it and fail without.)
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { stateOf } from '../../lib/dvv.js';
import { volatileStorage, type VolatileStorage } from '../support/volatile-storage.js';
import { until } from '../sync/support.js';

/**
 * A writer that has never met `peer`, holding its own write of `p` and, for `q`, the peer's state joined (recorded
 * as the peer's: an echo on their link) but not durable; `mine`: the writer wrote q first, and the peer's state of q
 * supersedes that write; `leads`: the writer starts the run (the smaller replicaId does). Then they connect: the
 * establishing run leaves q out.
 */
async function setUp(mine: boolean, leads: boolean): Promise<{ storage: VolatileStorage; writer: Replica; peer: Replica; ran: () => number; flush(): void; close(): Promise<void> }> {
  const storage = volatileStorage();
  const writer = await openReplica({ storage });
  let peer = await openReplica({ storage: memoryStorage() });
  while (writer.replicaId < peer.replicaId !== leads) {
    await peer.close();
    peer = await openReplica({ storage: memoryStorage() });
  }
  await peer.space('s').put('held', 1); // both hold keys and no cursor: their first meeting repairs by a run
  await writer.space('s').put('p', 'ours');
  if (mine) {
    await writer.space('s').put('q', 'ours first');
    await peer.core.join('s', [['q', stateOf((await storage.get('s', 'q'))!)]]);
  }
  await peer.space('s').put('q', 'theirs');
  storage.autoFlush = false;
  const joined = writer.core.join('s', [['q', stateOf((await peer.core.storage.get('s', 'q'))!)]], { peer: peer.replicaId });
  await until(() => storage.unflushed > 0, 'the writer applied the peer\'s state of q');
  let runs = 0;
  writer.on('antiEntropy', () => runs++);
  const [ta, tb] = pairTransports();
  const links = [writer.connect(ta, { antiEntropyInterval: 0 }), peer.connect(tb, { antiEntropyInterval: 0 })];
  const flush = () => {
    storage.autoFlush = true;
    storage.flush();
  };
  return {
    storage,
    writer,
    peer,
    ran: () => runs,
    flush,
    async close() {
      flush();
      await joined;
      for (const l of links) l.close();
      await Promise.all([writer.close(), peer.close()]);
    },
  };
}

describe('a run that left out an echo of the peer\'s state', () => {
  it.each([
    [false, false],
    [true, false],
    [false, true],
    [true, true],
  ])('counts the writes it carried held once the echo is durable (the writer wrote q first: %s, leads the run: %s)', async (mine, leads) => {
    const { storage, writer, peer, ran, flush, close } = await setUp(mine, leads);
    try {
      // The run read the writer's tree while q's record was not durable: q was left out, p went to the peer.
      // (Leading the run, the writer read its tree at the start, and waits to store the peer's states before it sends p.)
      await until(async () => (await peer.space('s').get('p')) !== undefined || storage.unflushed > 1, 'the peer holds p, or the run is under way');
      expect(writer.pending, 'p, and q where the writer wrote it').toBe(mine ? 2 : 1);
      flush(); // q's record durable, and the writer's stores of the run (its end waits for them)
      await until(() => ran() > 0, 'the run ended');
      await until(() => writer.pending === 0, 'the writer counts nothing pending', 3000);
      expect(writer.status).toBe('synced');
      expect((await writer.space('s').get('q'))?.value).toBe('theirs');
      const rec = await writer.core.storage.get('s', 'q');
      expect(rec?.src, 'q\'s record is the peer\'s state: an echo on the link').toBe(peer.replicaId);
    } finally {
      await close();
    }
  });
});
