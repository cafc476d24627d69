// Typed CRDT values carry their type: siblings merge by it on every replica, whether or not a merge function
// is registered for the key (the README's counter example used to read back 1 after 3 increments on two replicas).
import { describe, expect, it } from 'vitest';
import { memoryStorage, merges, openReplica, typedBytes } from '../../lib/index.js';
import { replicas, sync } from '../support/replicas.js';

const { counter, addWins } = merges;

describe('typed values merge without registration', () => {
  it('counter: 3 increments on two replicas read back as 3 with no merge registered', async () => {
    const [a, b] = await replicas(2);
    const sa = a!.space('s');
    const sb = b!.space('s');
    await sa.update('likes', (c) => counter.increment(c as never, a!.replicaId, 1));
    await sa.update('likes', (c) => counter.increment(c as never, a!.replicaId, 1));
    await sb.update('likes', (c) => counter.increment(c as never, b!.replicaId, 1));
    await sync(a!, b!, 's', ['likes']);
    for (const s of [sa, sb]) {
      const r = await s.get('likes');
      expect(counter.value(r!.value as never)).toBe(3);
      expect(r!.conflict).toBe(false);
    }
  });

  it('add-wins set: concurrent adds on two replicas all survive with no merge registered', async () => {
    const [a, b] = await replicas(2);
    await a!.space('s').update('list', (v) => addWins.add(v as never, a!.replicaId, 'milk'));
    await b!.space('s').update('list', (v) => addWins.add(v as never, b!.replicaId, 'eggs'));
    await sync(a!, b!, 's', ['list']);
    for (const r of [a!, b!]) {
      const got = await r.space('s').get('list');
      expect(addWins.values(got!.value as never)).toEqual(['eggs', 'milk']);
      expect(got!.conflict).toBe(false);
    }
  });

  it('bytes claiming a known type must be a value of it (a peer would refuse them): UNSERIALIZABLE_VALUE at put', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    await expect(r.space('s').put('c', typedBytes('counter', new TextEncoder().encode('{"p":1}')))).rejects.toMatchObject({ code: 'UNSERIALIZABLE_VALUE' });
    // Unknown types are opaque here and kept as they are.
    await r.space('s').put('u', typedBytes('someday', Uint8Array.of(1, 2)));
    expect((await r.space('s').get('u'))!.value).toEqual(typedBytes('someday', Uint8Array.of(1, 2)));
    await r.close();
  });
});
