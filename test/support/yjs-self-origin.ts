import { expect } from 'vitest';
import * as Y from 'yjs';

/**
 * Client `client` inserting 'Q' after the first character of `base` (a document of client 2's text 't'): the update
 * as Yjs makes it (`honest`), and the same with its origin rewritten to name the item itself, client:0 (`hostile`) —
 * it decodes, and Yjs throws integrating it (a hostile or broken writer's delta or whole state).
 */
export function selfOriginDelta(base: Uint8Array, client = 1): { honest: Uint8Array; hostile: Uint8Array } {
  const e = new Y.Doc();
  Y.applyUpdate(e, base);
  e.clientID = client;
  let honest: Uint8Array | undefined;
  e.on('update', (u: Uint8Array) => (honest = u));
  e.getText('t').insert(1, 'Q');
  // V1: 1 client, 1 struct, the client, clock 0, info, origin (client 2, clock 0), right origin, content.
  const hostile = Uint8Array.from(honest!);
  expect(Array.from(hostile.subarray(0, 6))).toEqual([1, 1, client, 0, 0xc4, 2]);
  hostile[5] = client;
  expect(() => Y.decodeUpdate(hostile)).not.toThrow();
  expect(() => Y.applyUpdate(new Y.Doc(), Y.mergeUpdates([base, hostile]))).toThrow();
  return { honest: honest!, hostile };
}
