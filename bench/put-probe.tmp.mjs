import { memoryStorage, openReplica } from 'concord';
import * as Y from 'yjs';
const N = 100000;
const keys = Array.from({ length: N }, (_, i) => `k${i}`);
const values = keys.map((_, i) => ({ title: `item ${i}`, done: i % 2 === 0, n: i }));
const cpu = async (fn) => { const c0 = process.cpuUsage(); await fn(); const c = process.cpuUsage(c0); return N / ((c.user + c.system) / 1e6); };
const best = { seq: 0, inflight: 0, y: 0 };
for (let round = 0; round < 7; round++) {
  const r = await openReplica({ storage: memoryStorage() }); const s = r.space('b');
  const seq = await cpu(async () => { for (let i = 0; i < N; i++) await s.put(keys[i], values[i]); });
  const r2 = await openReplica({ storage: memoryStorage() }); const s2 = r2.space('b');
  const inflight = await cpu(async () => { for (let i = 0; i < N; i += 1000) { const b = []; for (let j = i; j < i + 1000; j++) b.push(s2.put(keys[j], values[j])); await Promise.all(b); } });
  const doc = new Y.Doc(); const m = doc.getMap('b');
  const y = await cpu(() => { for (let i = 0; i < N; i++) m.set(keys[i], values[i]); });
  best.seq = Math.max(best.seq, seq); best.inflight = Math.max(best.inflight, inflight); best.y = Math.max(best.y, y);
}
console.log(`best: seq ${Math.round(best.seq)} inflight ${Math.round(best.inflight)} yjs ${Math.round(best.y)} ratio ${(best.seq/best.y).toFixed(2)} / ${(best.inflight/best.y).toFixed(2)}`);
