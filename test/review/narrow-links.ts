/**
 * Set-up shared by the withheld-key tests: replicas on memory storage (an "old" one speaks no protocol that takes a key
 * in parts, so a value over the link's frame limit is left out and withheld), links with an optional frame limit, and
 * everything closed after each test.
 */
import { afterEach } from 'vitest';
import { memoryStorage, openReplica, pairTransports, type Link, type Replica } from '../../lib/index.js';

/** The frame limit of a narrow link: a 30 KiB value does not cross it whole. */
export const FRAME = 16 * 1024;

const open: Replica[] = [];
const links: Link[] = [];
afterEach(async () => {
  for (const l of links.splice(0)) l.close();
  for (const r of open.splice(0)) await r.close();
});

export async function replica(old = false): Promise<Replica> {
  const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 64 * 1024 });
  if (old) r.core.speaks = [5, 6, 7, 8, 9]; // takes no key in parts
  r.space('s');
  open.push(r);
  return r;
}

/** Links `a` and `b` (no periodic anti-entropy); `frame`: the link's frame limit (default: none). */
export function connect(a: Replica, b: Replica, frame?: number): Link[] {
  const [ta, tb] = frame === undefined ? pairTransports() : pairTransports({ maxFrameBytes: frame });
  const pair = [a.connect(ta, { antiEntropyInterval: 0 }), b.connect(tb, { antiEntropyInterval: 0 })];
  links.push(...pair);
  return pair;
}
