import { it } from 'vitest';
import { makeSchedule } from './schedule.js';
import { pendingFeatures } from './pending.js';
import { runSchedule } from './run-schedule.js';
import { describeSchedule } from './schedule.js';

it('probe', async () => {
  const seeds = (process.env.PSEEDS ?? '7071').split(',').map(Number);
  const key = process.env.PKEY;
  for (const seed of seeds) {
    const s = makeSchedule(seed, { family: (process.env.PFAM ?? 'restore-relay') as never, disabled: pendingFeatures() });
    if (key) console.log(describeSchedule ? describeSchedule(s) : '');
    const r = await runSchedule(s, {
      jitter: process.env.PJIT === '1',
      speaks11: process.env.PS11 === '1',
      inspect: key
        ? (cluster) => {
            for (const n of cluster.names) {
              const rec = cluster.node(n).disk.records('s').find(([k]) => k === key)?.[1];
              console.log(n, cluster.node(n).ids.join(','), JSON.stringify(rec && { vs: rec.vs.map((v) => `${v.r.slice(0, 4)}:${v.n}@${v.ep ?? ''}${v.d ? 'd' : ''}`), cc: rec.cc, pts: rec.pts }));
            }
            for (const c of cluster.ledger.collected.filter((c) => c.key === key)) console.log('collected', c.node, JSON.stringify({ cc: c.cc, pts: c.pts, t: [...c.tombstones], applied: c.applied, gone: c.diskGone }));
          }
        : undefined,
    });
    console.log(seed, JSON.stringify(r.durabilityChecked), r.problems.length, r.problems.map((p) => p.slice(0, 300)).join('\n'));
  }
}, 600000);
