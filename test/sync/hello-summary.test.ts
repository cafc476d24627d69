/**
 * A hello says of each space its last durable seq and its key count; it does not wait for the space's Merkle tree
 * (a session streaming from its cursor may never need it), and says what the tree would.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, openReplica, type Transport } from '../../lib/index.js';
import { decodeMessage, MsgType, type Hello } from '../../lib/sync/messages.js';

/** A transport that opens at once, answers nothing, and hands over the first frame sent. */
function probe(onFirst: (frame: Uint8Array | string) => void): Transport {
  let first = true;
  return {
    label: 'probe',
    reconnect: false,
    async open(handlers) {
      let closed = false;
      return {
        send: (frame: Uint8Array | string) => {
          if (first) onFirst(frame);
          first = false;
        },
        close(code = 1000, reason = '') {
          if (closed) return;
          closed = true;
          queueMicrotask(() => handlers.onClose(code, reason));
        },
      };
    },
  } as Transport;
}

describe('the hello', () => {
  it('goes out before any Merkle tree is built, with the top and key count the tree then agrees with', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    const s = r.space('s');
    for (let i = 0; i < 50; i++) await s.put(`k${i}`, i);
    await s.delete('k3');
    let treesAtHello = -1;
    const sent = new Promise<Uint8Array | string>((resolve) => {
      const link = r.connect(
        probe((frame) => {
          treesAtHello = r.indexStats.spaces;
          resolve(frame);
        }),
        { antiEntropyInterval: 0 },
      );
      void link;
    });
    const hello = decodeMessage(await sent, { maxValueBytes: 1 << 20 }) as Hello;
    expect(hello.type).toBe(MsgType.Hello);
    expect(treesAtHello).toBe(0);
    const item = hello.spaces.find((x) => x.space === 's')!;
    // What the tree says, once built: the same figures.
    const ix = await (r as unknown as { hub: { index(space: string): Promise<{ lastSeq: number; tree: { keyCount: number } }> } }).hub.index('s');
    expect(item.top).toBe(ix.lastSeq);
    expect(item.keys).toBe(ix.tree.keyCount);
    expect(item.keys).toBe(50);
    await r.close();
  });
});
