import { openReplica } from 'concord';
import { fileStorage } from 'concord/fs';
import { mkdtempSync } from 'node:fs';
const dir = process.argv[2];
if (process.argv[3] === 'build') {
  const replica = await openReplica({ storage: fileStorage(dir, { ...(process.argv[5] === 'nocompact' ? { compactMinBytes: Number.MAX_SAFE_INTEGER } : {}) }) });
  const space = replica.space('bench');
  const batch = [];
  for (let i = 0; i < 100000; i++) batch.push(space.put(`k${i}`, { title: `item ${i}`, done: i % 2 === 0, n: i }));
  await Promise.all(batch);
  await replica.close();
  if (process.argv[4] === 'compact') { const s = fileStorage(dir); await s.open(); await s.compactNow(); await s.close(); }
} else {
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const s = fileStorage(dir); await s.open();
    const t1 = performance.now();
    const replica = await openReplica({ storage: s });
    const got = await replica.space('bench').get('k5000');
    console.log('storage open', (t1 - t0).toFixed(0), 'total', (performance.now() - t0).toFixed(0));
    await replica.close();
  }
}
