/**
 * The LIVE frames of a writer's keystrokes, as the tests of what a keystroke costs at 10 and at 11 measure them
 * (epoch-untagged-cost: writer to peer; epoch-relay-keystroke: relay to follower).
 */
import { expect } from 'vitest';
import type * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import type { Replica } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { synced, until } from './support.js';

const text = (d: Y.Doc) => d.getText('body').toString();

/**
 * A document on writer `a` and reader `b`, 50 lines synced, then three keystrokes: for each, the one LIVE frame that
 * `frames` (every frame of the hop watched, appended as they go) gained, less the Yjs update it carries (whose length
 * varies with the document's random client id).
 */
export async function keystrokeFrames(a: Replica, b: Replica, frames: readonly Uint8Array[]): Promise<number[]> {
  const da = await openDoc(a.space('s'), 'doc', { writeDelay: 0 });
  const db = await openDoc(b.space('s'), 'doc', { writeDelay: 0 });
  const t = da.getText('body');
  for (let i = 0; i < 50; i++) {
    t.insert(t.length, `line ${i}: the quick brown fox\n`);
    await flushDoc(da);
  }
  await synced(a, b);
  await until(() => text(db) === text(da), 'the lines');
  const lengths: number[] = [];
  for (let i = 0; i < 3; i++) {
    const before = frames.length;
    let update: Uint8Array | undefined;
    da.once('update', (u: Uint8Array) => (update = u));
    t.insert(100 + i * 7, 'x');
    await flushDoc(da);
    await until(() => text(db) === text(da), 'keystroke');
    const live = frames.slice(before).filter((f) => f[0] === MsgType.Live);
    expect(live.length).toBe(1);
    lengths.push(live[0]!.byteLength - update!.byteLength);
  }
  return lengths;
}

/** Whether a replica tags its dots with its epoch (identity.ts `tagged`): read from the core, which keeps it private. */
export const tags = (r: Replica): boolean => (r.core as unknown as { identity: { tagged?: string } }).identity.tagged !== undefined;
