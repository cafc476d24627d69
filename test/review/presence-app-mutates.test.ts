/**
 * Review rev48b (the app mutating everything it is handed): presence. The members a replica hands its app — through
 * `presence.list()` and to its subscribers — carry each member's `meta`. Handed the presence state's own objects, an
 * app that changed one (a cursor moved in place, a name rewritten) changed what the replica tells its peers: its own
 * heartbeats, and the entries it forwards and answers a late joiner's digest with, carry the object as changed. Here
 * the middle replica b of a – b – c scribbles over every member it is handed; c and a late joiner d must still see
 * each member's meta as its owner set it, and b's own later lists too.
 */
import { describe, expect, it } from 'vitest';
import { memoryStorage, type PresenceMember, type Replica } from '../../lib/index.js';
import { openReplica } from '../../lib/replica.js';
import { synced, until } from '../sync/support.js';
import { paired } from './paired.js';

const { undo, connect } = paired();

/** Changes every member's meta in place, deeply. */
function scribble(members: readonly PresenceMember[]): void {
  const deep = (x: unknown): void => {
    if (x === null || typeof x !== 'object') return;
    if (Array.isArray(x)) {
      x.forEach(deep);
      x.push('scribbled');
      return;
    }
    const o = x as Record<string, unknown>;
    for (const k of Object.keys(o)) {
      if (typeof o[k] === 'object') deep(o[k]);
      else o[k] = 'scribbled';
    }
    o.scribbled = true;
  };
  for (const m of members) deep(m.meta);
}

const TTL = 300; // heartbeats every 100 ms

describe("presence: an app that mutates the members it is handed changes nothing its replica tells", () => {
  it('c and a late joiner see every meta as its owner set it, b scribbling over each list and each publish', async () => {
    const open = async () => {
      const r = await openReplica({ storage: memoryStorage(), presenceTtl: TTL });
      undo.push(() => r.close());
      r.space('room');
      return r;
    };
    const a = await open();
    const b = await open();
    const c = await open();
    connect(a, b);
    connect(b, c);
    await synced(a, b, c);
    b.space('room').presence.subscribe((members) => scribble(members));
    const metaOf = (r: Replica, id: string) => r.space('room').presence.list().find((m) => m.replicaId === id)?.meta;
    const ada = { name: 'Ada', cursor: { line: 3, ch: 1 }, tags: ['x'] };
    const bob = { name: 'Bob', cursor: { line: 7, ch: 0 }, tags: [] };
    a.space('room').presence.set(ada);
    b.space('room').presence.set(bob);
    await until(() => JSON.stringify(metaOf(c, a.replicaId)) === JSON.stringify(ada) && metaOf(c, b.replicaId) !== undefined, 'c sees a and b');
    // b's app reads the list and changes it, several heartbeats long.
    for (let i = 0; i < 5; i++) {
      scribble(b.space('room').presence.list());
      await new Promise((r) => setTimeout(r, TTL / 3));
    }
    const d = await open();
    connect(b, d);
    await synced(b, d);
    await until(() => metaOf(d, a.replicaId) !== undefined && metaOf(d, b.replicaId) !== undefined, 'd learns the members from b');
    await new Promise((r) => setTimeout(r, TTL)); // three more heartbeats of b's
    for (const [who, r] of [['c', c], ['d', d], ['b', b]] as const) {
      expect(metaOf(r, a.replicaId), `${who}: a's meta`).toEqual(ada);
      expect(metaOf(r, b.replicaId), `${who}: b's meta`).toEqual(bob);
    }
  }, 20_000);
});
