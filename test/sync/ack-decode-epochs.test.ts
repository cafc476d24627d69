// At protocol 11 every frame a link decoded made the epoch state of a frame carrying key states (an EpochIn and its
// table: a map and a set), ACKs too — and a relay fanning a write out to its clients reads up to tens of ACKs per
// write (S7, issue 14). Only frames carrying key states read epochs now (messages.ts decodeMessage); counted here.
import { describe, expect, it, vi } from 'vitest';
import type { EpochLink } from '../../lib/sync/epoch-wire.js';
import { Epochs, UNTAGGED } from '../../lib/epoch-points.js';
import { decodeMessage, encodeMessage, MsgType } from '../../lib/sync/messages.js';

const made = vi.hoisted(() => ({ n: 0 }));
vi.mock('../../lib/sync/epoch-wire.js', async (importOriginal) => {
  const wire = await importOriginal<typeof import('../../lib/sync/epoch-wire.js')>();
  class CountedEpochIn extends wire.EpochIn {
    constructor(...args: ConstructorParameters<typeof wire.EpochIn>) {
      super(...args);
      made.n++;
    }
  }
  return { ...wire, EpochIn: CountedEpochIn };
});

const reg = new Epochs();
reg.learnChain('c', [{ e: 'C1', parent: UNTAGGED, fork: 0 }]);
const link = (): EpochLink => ({ me: { id: 'you', chain: [] }, peer: { id: 'me', chain: [] }, reg: () => reg, learn: () => undefined });

describe('decoding at protocol 11', () => {
  it('reads no epoch state for an ACK, and still reads a CHANGES frame naming an epoch', () => {
    const epochs = link();
    made.n = 0;
    for (let upTo = 1; upTo <= 50; upTo++) {
      const m = decodeMessage(encodeMessage({ type: MsgType.Ack, space: 's', upTo }), { maxValueBytes: 1 << 20, table: ['me', 'you'], epochs });
      expect(m).toEqual({ type: MsgType.Ack, space: 's', upTo });
    }
    expect(made.n, 'no epoch state for 50 ACKs').toBe(0);
    const sendLink: EpochLink = { me: { id: 'me', chain: [] }, peer: { id: 'you', chain: [] }, reg: () => reg, learn: () => undefined };
    const frame = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 0, entries: [['k', { vs: [{ r: 'c', n: 5, t: 1, c: 0, v: '1', ep: 'C1' }], cc: { c: 5 }, pts: { c: [{ e: 'C1', n: 5 }] } }]] }, ['me', 'you'], { epochs: sendLink });
    const m = decodeMessage(frame, { maxValueBytes: 1 << 20, table: ['me', 'you'], epochs });
    expect(made.n).toBe(1);
    expect(m.type === MsgType.Changes && m.entries[0]![1].vs[0]!.ep).toBe('C1');
  });
});
