/**
 * What a keystroke costs a follower behind a relay at protocol 11 (S10's paced keystrokes): the relay's LIVE frame
 * carries the writer's dot, which names the writer's epoch — in a frame the relay sends, the writer is a third replica,
 * whose epoch no chain implies: the link's LIVE epoch table names it once, and later frames imply it
 * (epoch-table.ts). Measured against the same keystrokes at 10.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type ConnectionHandlers, type Replica, type Transport } from '../../lib/index.js';
import { metAt11 } from '../support/epoch-peer.js';
import { memoryRelay } from '../support/tab-group.js';
import { keystrokeFrames, tags } from './keystroke-frames.js';

const AT10 = [5, 6, 7, 8, 9, 10];
const AT11 = [...AT10, 11];
const now = () => 1_765_000_000_000;

/** `inner`, recording the frames its client receives. */
function recording(inner: Transport, got: Uint8Array[]): Transport {
  return {
    ...inner,
    open: (h: ConnectionHandlers) => inner.open({ ...h, onMessage: (f) => (f instanceof Uint8Array && got.push(f), h.onMessage(f)) }),
  };
}

/** The relay's LIVE frames to the follower for three keystrokes (after 50 lines synced), less the Yjs update each carries. */
async function keystrokes(speaks: number[], met: boolean): Promise<number[]> {
  const opened: Replica[] = [];
  const open = async (storage = memoryStorage()) => {
    const r = await openReplica({ storage, speaks, now });
    opened.push(r);
    return r;
  };
  // `met`: the writer's storage met a peer at 11 before (at 11 it tags from this open on; at 10 it does not).
  const [relay, a, b] = [await open(), await open(met ? await metAt11(memoryStorage()) : memoryStorage()), await open()];
  try {
    const mem = memoryRelay(relay);
    const got: Uint8Array[] = [];
    a.connect(mem.transport(), { antiEntropyInterval: 0 });
    b.connect(recording(mem.transport(), got), { antiEntropyInterval: 0 });
    const lengths = await keystrokeFrames(a, b, got);
    expect(tags(a)).toBe(met && speaks.includes(11));
    return lengths;
  } finally {
    await Promise.all(opened.map((r) => r.close()));
  }
}

describe('protocol 11: a keystroke a relay forwards', () => {
  // A tagging writer's keystroke through a relay: in the relay's frame the writer is a third replica. With a LIVE
  // frame's epoch table kept per link (epoch-table.ts), its epoch is named once on the link and implied from then on
  // (on 97cc38c, where a frame's table lived for one frame: 25 B beside the update against 12 at 10).
  it('from a writer that tags costs the follower what it cost at 10', async () => {
    expect(await keystrokes(AT11, true)).toEqual(await keystrokes(AT10, true));
  });

  it('from a writer that does not tag costs the follower what it cost at 10', async () => {
    expect(await keystrokes(AT11, false)).toEqual(await keystrokes(AT10, false));
  });
});
