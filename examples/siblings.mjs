// Two replicas write the same key while apart, sync, and show their siblings; then a merge function resolves them.
// Run: npm start   (until the relay lands, the main job is this example)
import { openReplica, memoryStorage, merges } from 'concord';

const alice = await openReplica({ storage: memoryStorage() });
const bob = await openReplica({ storage: memoryStorage() });
const a = alice.space('team-42');
const b = bob.space('team-42');

// Both add to the same cart and write the same note while offline.
await a.put('cart/shared', ['milk']);
await b.put('cart/shared', ['eggs', 'bread']);
await a.put('note/today', 'Buy milk');
await b.put('note/today', 'Buy eggs and bread');

// Exchange states (what the sync engine does over the wire): a join, in both directions.
for (const [from, to] of [[alice, bob], [bob, alice]]) {
  for (const key of ['cart/shared', 'note/today']) {
    const rec = await from.core.storage.get('team-42', key);
    await to.core.join('team-42', [[key, rec]]);
  }
}

const note = await a.get('note/today');
console.log('note/today has', note.siblings.length, 'siblings:', note.siblings, 'conflict:', note.conflict);
for (const v of note.versions) console.log(`  version ${v.replicaId}:${v.counter} at ${new Date(v.hlc.ms).toISOString()} →`, v.value);

// The app resolves the conflict with the context of its read: it supersedes exactly both siblings.
await a.put('note/today', 'Buy milk, eggs and bread', { context: note.context });
console.log('resolved:', (await a.get('note/today')).value);

// With a merge function registered, reads reconcile by themselves (and write the merge back).
const merged = await openReplica({ storage: alice.core.storage, merge: { 'cart/*': merges.union } });
console.log('cart/shared merged by merges.union:', (await merged.space('team-42').get('cart/shared')).value);
