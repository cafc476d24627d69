/**
 * A withhold a crash takes (issue 10, simulator seed withheld 20031). pending.ts stores the withholds of pending keys,
 * but that store went after the frame that left the key out: the peer stored a cursor past the key on that frame, and a
 * crash of the writer before the store was durable took the withhold. After the restart the peer's hello resumed from
 * that cursor, which then acknowledged the key: `replica.pending` dropped it while no other replica held the write.
 * A link now holds that frame, and every one after it, back until the withhold is durable (wire.ts).
 */
import { describe, expect, it } from 'vitest';
import { crashWithheld, withheldWriter } from './narrow-links.js';

describe('a withheld key across a crash', () => {
  it('stays pending when the crash took the store of its withhold', async () => {
    // The writer's disk: durable at once, except that the transaction storing the withholds, and every one after it,
    // never gets durable before the crash (its group commit's fsync has not returned).
    const { disk, writer, old, tw, link } = await withheldWriter((d) => (d.autoFlush = false));
    expect(disk.autoFlush, 'the withhold is being stored').toBe(false);
    await new Promise((r) => setTimeout(r, 100)); // a frame past big would be stored and acknowledged by now
    expect(writer.pending).toBe(1);

    // Power loss: what was not durable is gone.
    await crashWithheld(disk, writer, link, tw, old);
  });
});
