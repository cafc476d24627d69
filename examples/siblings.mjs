// Two replicas write the same keys while apart, sync, and show their siblings; a merge function resolves others.
// Run: npm run example
import { openReplica, memoryStorage, merges, pairTransports } from 'concord';

const alice = await openReplica({ storage: memoryStorage(), merge: { 'cart/*': merges.union } });
const bob = await openReplica({ storage: memoryStorage(), merge: { 'cart/*': merges.union } });
const a = alice.space('team-42');
const b = bob.space('team-42');

// Offline: both add to the same cart and write the same note.
await a.put('cart/shared', ['milk']);
await b.put('cart/shared', ['eggs', 'bread']);
await a.put('note/today', 'Buy milk');
await b.put('note/today', 'Buy eggs and bread');

// Online: connect them (in one process; across a network it is webSocketTransport to a relay).
const [ta, tb] = pairTransports();
alice.connect(ta);
bob.connect(tb);
while (alice.status !== 'synced' || bob.status !== 'synced') await new Promise((r) => setTimeout(r, 5));

const note = await a.get('note/today');
console.log(`note/today: ${note.siblings.length} siblings, conflict: ${note.conflict}`);
for (const v of note.versions) console.log(`  ${v.replicaId}:${v.counter} at ${new Date(v.hlc.ms).toISOString()} →`, v.value);

// The app resolves with the context of its read: it supersedes exactly both siblings, on every replica.
await a.put('note/today', 'Buy milk, eggs and bread', { context: note.context });
while (alice.status !== 'synced' || bob.status !== 'synced') await new Promise((r) => setTimeout(r, 5));
const resolved = await b.get('note/today');
console.log('resolved on bob:', resolved.value, 'conflict:', resolved.conflict);

// With a merge function registered, reads reconcile by themselves (and write the merge back).
console.log('cart/shared merged by merges.union:', (await b.get('cart/shared')).value);
await alice.close();
await bob.close();
