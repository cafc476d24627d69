/**
 * What a dot that names no epoch costs at protocol 11 (epoch-wire.ts `plain`, impliedChain): a writer's keystroke
 * LIVE frame is as long at 11 as at 10 whether the writer tags or not — a fresh storage that wrote before its first
 * meeting with a peer at 11 (its first epoch's label a root label it never tagged in), a storage from before 11, a
 * writer that tags from its first epoch, and one whose root label left its hello's last epochs.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { MAX_SENT_EPOCHS } from '../../lib/epochs.js';
import { gate } from './gate.js';
import { keystrokeFrames, tags } from './keystroke-frames.js';
import { synced, until } from './support.js';

const AT10 = [5, 6, 7, 8, 9, 10];
const AT11 = [...AT10, 11];
type Writer = 'wrote before meeting' | 'before 11' | 'tags' | 'tags, root label gone';

/** One wall-clock time for every replica: a version's time goes on the wire as a varint, so a real clock's elapsed
 * time could move a frame's length by a byte between the run at 10 and the one at 11 (it did, under load). */
const now = () => 1_765_000_000_000;

/** Meets a peer speaking `speaks` and closes: from the storage's next open on, a replica at 11 tags. */
async function meet(storage: ReturnType<typeof memoryStorage>, speaks: number[]): Promise<void> {
  const a = await openReplica({ storage, speaks, now });
  const b = await openReplica({ storage: memoryStorage(), speaks, now });
  const [ta, tb] = pairTransports();
  a.connect(ta, { antiEntropyInterval: 0 });
  b.connect(tb, { antiEntropyInterval: 0 });
  await a.space('s').put('met', 1);
  await synced(a, b);
  await until(async () => (await b.space('s').get('met')) !== undefined, 'met');
  await Promise.all([a.close(), b.close()]);
}

/** The writer as `kind` says, opened speaking `speaks` (connected only once `connected`). */
async function writer(kind: Writer, speaks: number[]): Promise<Replica> {
  const storage = memoryStorage();
  if (kind === 'before 11') {
    const old = await openReplica({ storage, now, speaks: AT10 }); // a release before 11
    await old.space('s').put('old', 1);
    await old.close();
  }
  if (kind === 'tags' || kind === 'tags, root label gone') await meet(storage, speaks);
  // Each open starts an epoch: past MAX_SENT_EPOCHS more, the first tagged one (a root label) left the hello.
  if (kind === 'tags, root label gone') for (let i = 0; i <= MAX_SENT_EPOCHS; i++) await (await openReplica({ storage, speaks, now })).close();
  return openReplica({ storage, speaks, now });
}

/** The LIVE frames of three keystrokes the writer sends (after 50 lines synced), and whether its dots name epochs. */
async function keystrokes(kind: Writer, speaks: number[]): Promise<{ lengths: number[]; tagged: boolean }> {
  const a = await writer(kind, speaks);
  const b = await openReplica({ storage: memoryStorage(), speaks, now });
  try {
    const [ta, tb] = pairTransports();
    const ga = gate(ta);
    a.connect(ga.transport, { antiEntropyInterval: 0 });
    b.connect(tb, { antiEntropyInterval: 0 });
    return { lengths: await keystrokeFrames(a, b, ga.sent), tagged: tags(a) };
  } finally {
    await Promise.all([a.close(), b.close()]);
  }
}

describe('protocol 11: a keystroke costs what it cost at 10, whether its writer tags or not', () => {
  for (const kind of ['wrote before meeting', 'before 11', 'tags', 'tags, root label gone'] as const) {
    it(kind, async () => {
      const at10 = await keystrokes(kind, AT10);
      const at11 = await keystrokes(kind, AT11);
      // The writer is what the case says (at 10 nothing tags).
      expect([at10.tagged, at11.tagged]).toEqual([false, kind === 'tags' || kind === 'tags, root label gone']);
      expect(at11.lengths).toEqual(at10.lengths);
    });
  }
});
