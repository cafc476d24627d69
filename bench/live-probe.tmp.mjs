import { memoryStorage, openReplica, pairTransports } from 'concord';
const w = await openReplica({ storage: memoryStorage() });
const c = await openReplica({ storage: memoryStorage() });
w.space('doc'); c.space('doc');
const [t1, t2] = pairTransports();
w.connect(t1); c.connect(t2);
while (w.status !== 'synced' || c.status !== 'synced') await new Promise((r) => setTimeout(r, 5));
let got = 0;
c.space('doc').subscribe('*', () => got++);
const N = 20000;
const c0 = process.cpuUsage(); const t0 = performance.now();
for (let i = 0; i < N; i++) {
  await w.space('doc').put(`k${i % 500}`, { title: `item ${i}`, done: false, n: i });
  if (i % 50 === 0) await new Promise((r) => setImmediate(r));
}
while (got < N) await new Promise((r) => setImmediate(r));
const c1 = process.cpuUsage(c0);
console.log(`${N} live changes: ${((c1.user + c1.system) / N).toFixed(1)} µs CPU each (writer + client), wall ${((performance.now() - t0) / N * 1000).toFixed(1)} µs`);
await w.close(); await c.close();
