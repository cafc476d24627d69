/**
 * A withhold whose store fails (a transient storage error: EIO, a quota hit, an aborted IndexedDB transaction). A link
 * holds back the frame that left a key out until the withhold is durable (wire.ts WITHHELD); that store was best
 * effort, and its failure let the held frames go: the peer stored a cursor past the key, and a crash before any later
 * store took the withhold, so the next session's resumed cursor counted a key no other replica held. The store is now
 * tried again (with a back-off) until it is durable, and the held frames wait for it.
 */
import { describe, expect, it } from 'vitest';
import { restartWithheld, withheldWriter } from './narrow-links.js';

describe('a withheld key whose withhold store failed', () => {
  it('stays pending across a crash, and the peer gets no frame past it before the withhold is stored', async () => {
    let failures = 1;
    let tries = 0;
    const { disk, writer, errors, old, tw, link } = await withheldWriter(() => {
      tries++;
      if (failures > 0) {
        failures--;
        throw new Error('EIO: the withhold store failed');
      }
    });
    // Long enough for a frame past big to be stored and acknowledged by the peer (the old code sent it at the failure).
    await new Promise((r) => setTimeout(r, 200));
    expect(tries, 'the withhold store was tried').toBeGreaterThan(0);

    // Power loss, then a restart from what was durable.
    const after = await disk.crashed();
    link.close();
    await writer.close();
    await restartWithheld(after, tw, old);
    expect(errors.some((e) => /withhold store failed/.test(String(e) + String((e as { cause?: unknown }).cause))), 'the failure is reported').toBe(true);
  });
});
