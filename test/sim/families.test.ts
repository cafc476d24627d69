/**
 * Each seed family forces its fault class into every schedule, and the fault classes show the shapes they
 * promise (schedule.ts); the cluster honours the replicaId side the schedule asks of each relay client.
 */
import { describe, expect, it } from 'vitest';
import { Cluster } from './cluster.js';
import { COUNTERS, DAY, FAMILIES, FEATURES, makeSchedule, SETS, type Family, type Schedule } from './schedule.js';

const SEEDS = Array.from({ length: 40 }, (_, i) => i + 1);
const family = (f: Family): Schedule[] => SEEDS.map((seed) => makeSchedule(seed, { family: f }));
const faults = (s: Schedule, kind: string) => s.faults.filter((f) => f.what.kind === kind);
const nodesWithoutTabs = (s: Schedule) => s.nodes.filter((x) => !s.tabs[x]);

describe('seed families', () => {
  it.each(FEATURES)('every %s schedule has its fault class', (f) => {
    for (const s of family(f)) expect(s.features).toContain(f);
  });

  it('a schedule is a pure function of its seed and family; families draw independently', () => {
    expect(makeSchedule(9, { family: 'tabs' })).toEqual(makeSchedule(9, { family: 'tabs' }));
    expect(makeSchedule(9, { family: 'tabs' }).nodes.length === makeSchedule(9, { family: 'crash' }).nodes.length && makeSchedule(9, { family: 'tabs' }).duration === makeSchedule(9, { family: 'crash' }).duration).toBe(false);
  });

  it('a feature switched off is rolled all the same: the rest of the schedule does not change', () => {
    for (const seed of SEEDS) {
      const on = makeSchedule(seed, { family: 'mixed' });
      const off = makeSchedule(seed, { family: 'mixed', disabled: new Set(['tiny-frames']) });
      const shape = (x: Schedule) => ({ nodes: x.nodes, edges: x.edges, relays: x.relays, duration: x.duration, latency: x.latency, skew: x.skew });
      const base = (x: Schedule) => x.faults.filter((f) => ['drop', 'partition', 'restart'].includes(f.what.kind) && f.at <= x.duration);
      if (!on.features.includes('tiny-frames')) continue;
      expect(shape(off)).toEqual(shape(on));
      expect(base(off)).toEqual(base(on));
      expect(off.features).toEqual(on.features.filter((x) => x !== 'tiny-frames'));
      expect(off.disabled).toEqual(on.features.includes('tiny-frames') ? ['tiny-frames'] : []);
    }
  });

  it('restore-replica: a replica goes back to an earlier copy, with and without writes before it reconnects', () => {
    let withWrites = 0;
    let without = 0;
    for (const s of family('restore-replica')) {
      const restores = faults(s, 'restore');
      expect(restores.some((f) => !s.relays.includes(f.node))).toBe(true);
      for (const f of restores) {
        const w = f.what as { backupAt: number; down: number; isolate: number };
        expect(w.backupAt).toBeLessThanOrEqual(f.at);
        if (w.isolate === 0) without++;
        else if (s.ops.some((o) => o.node === f.node && o.at > f.at + w.down && o.at < f.at + w.down + w.isolate)) withWrites++;
      }
    }
    expect(withWrites).toBeGreaterThan(5);
    expect(without).toBeGreaterThan(5);
  });

  it('restore-once: exactly one client goes back to an earlier copy, sometimes writing before it reconnects', () => {
    let withWrites = 0;
    for (const s of family('restore-once')) {
      const restores = faults(s, 'restore');
      const mine = restores.filter((f) => !s.relays.includes(f.node));
      if (!s.features.includes('restore-replica')) expect(mine).toHaveLength(1);
      const f = mine[0]!;
      const w = f.what as { down: number; isolate: number };
      if (s.ops.some((o) => o.node === f.node && o.at > f.at + w.down && o.at < f.at + w.down + w.isolate)) withWrites++;
    }
    expect(withWrites).toBeGreaterThan(5);
  });

  it('restore-relay: a relay goes back to an earlier copy', () => {
    for (const s of family('restore-relay')) expect(faults(s, 'restore').some((f) => s.relays.includes(f.node))).toBe(true);
  });

  it('crash: disks take a virtual fsync, and power fails', () => {
    for (const s of family('crash')) {
      expect(faults(s, 'crash').length).toBeGreaterThan(0);
      expect(Object.keys(s.fsync).length).toBeGreaterThan(0);
    }
  });

  it('gc-relay and gc-peer: a short grace, collections, and peers away longer than the grace', () => {
    for (const s of family('gc-relay')) {
      const grace = s.collect[s.relays[0]!]!;
      expect(grace).toBeLessThan(DAY);
      expect(faults(s, 'collect').some((f) => s.relays.includes(f.node))).toBe(true);
      expect(s.faults.some((f) => (f.what.kind === 'away' && f.what.for > grace) || (f.what.kind === 'restart' && f.what.down > grace))).toBe(true);
    }
    for (const s of family('gc-peer')) {
      const peers = Object.entries(s.collect).filter(([n, g]) => g < DAY && !s.relays.includes(n)).map(([n]) => n);
      expect(peers).toHaveLength(1);
      expect(s.edges.filter(([a, b]) => a === peers[0] || b === peers[0]).length).toBeGreaterThanOrEqual(2);
      expect(faults(s, 'collect').some((f) => f.node === peers[0])).toBe(true);
    }
  });

  it('tabs: nodes with two or three instances, and tabs that close', () => {
    const all = family('tabs');
    for (const s of all) expect(Math.max(...Object.values(s.tabs))).toBeGreaterThanOrEqual(2);
    expect(all.some((s) => faults(s, 'tab').length > 0)).toBe(true);
  });

  it('tiny-frames, clock-skew, far-future', () => {
    for (const s of family('tiny-frames')) expect(s.maxFrameBytes).toBeLessThanOrEqual(2048);
    expect(family('clock-skew').some((s) => Object.values(s.skew).some((x) => Math.abs(x) >= 60_000))).toBe(true);
    for (const s of family('far-future')) expect(s.skew[s.farFuture!]).toBe(DAY);
  });

  it('relay-hub: clients on both sides of the relay, and peer-to-peer links beside it', () => {
    const all = family('relay-hub');
    for (const s of all) expect(new Set(Object.values(s.sides))).toEqual(new Set(['above', 'below']));
    expect(all.some((s) => s.edges.some(([a, b]) => !s.relays.includes(a) && !s.relays.includes(b)))).toBe(true);
    expect(all.some((s) => s.relays.length === 2)).toBe(true);
  });

  it('the cluster gives each relay client a replicaId on the side the schedule asks', async () => {
    const s = family('relay-hub').find((x) => x.relays.length === 1)!;
    const c = await Cluster.create({ seed: s.seed, nodes: s.nodes, edges: s.edges, relays: s.relays, sides: s.sides });
    const relayId = c.node(s.relays[0]!).r.replicaId;
    for (const [client, side] of Object.entries(s.sides)) expect(c.node(client).r.replicaId > relayId, `${client} ${side}`).toBe(side === 'above');
    await c.close();
  });

  it('withheld: narrow nodes and big writes, some written small again; drawn in its own family only', () => {
    const all = family('withheld');
    for (const s of all) {
      expect(Object.keys(s.narrow).length).toBeGreaterThan(0);
      const big = s.ops.filter((o) => o.what.kind === 'put' && o.what.bytes);
      expect(big.length).toBeGreaterThan(0);
      for (const o of big) for (const limit of Object.values(s.narrow)) expect((o.what as { bytes: number }).bytes).toBeGreaterThan(limit);
    }
    expect(all.some((s) => s.shrinkAtEnd) && all.some((s) => !s.shrinkAtEnd)).toBe(true);
    // The relink family brings narrow nodes in some of its schedules (lacks to forget and keep across re-links).
    for (const f of FAMILIES.filter((x) => x !== 'withheld' && x !== 'relink')) for (const s of family(f)) expect(s.features).not.toContain('withheld');
  });

  it('disk-full: disks with an fsync, several full-disk faults with writes around them, some just after the node was cut off; its own family only', () => {
    const all = family('disk-full');
    let afterCut = 0;
    for (const s of all) {
      const full = faults(s, 'full');
      expect(full.length).toBeGreaterThanOrEqual(3);
      for (const x of nodesWithoutTabs(s)) expect(s.fsync[x]).toBeDefined();
      for (const f of full) {
        const w = f.what as { node: string };
        // Writes near it: by the node, or by a neighbour of a relay (which stores what it hears).
        const writers = s.relays.includes(w.node) ? s.edges.filter((e) => e.includes(w.node)).flat().filter((x) => x !== w.node) : [w.node];
        expect(s.ops.some((o) => writers.includes(o.node) && o.what.kind === 'put' && Math.abs(o.at - f.at) <= 1500)).toBe(true);
        if (faults(s, 'away').some((d) => d.node === w.node && d.at <= f.at && f.at - d.at <= 1500)) afterCut++;
      }
    }
    expect(afterCut).toBeGreaterThan(0);
    for (const f of FAMILIES.filter((x) => x !== 'disk-full')) for (const s of family(f)) expect(faults(s, 'full')).toEqual([]);
  });

  it('relink: links closed and linked again, second links to a peer, clients moving between two relays; its own family only', () => {
    const all = family('relink');
    const kinds = ['unlink', 'twin', 'move'] as const;
    for (const s of all) {
      expect(faults(s, 'unlink').length).toBeGreaterThanOrEqual(2);
      for (const f of [...faults(s, 'twin'), ...faults(s, 'move')]) {
        const w = f.what as { spare: number; node: string };
        expect(s.spares[w.spare]![0]).toBe(w.node);
      }
      // Every closed link is one of the node's edges; a move leaves one relay for the other.
      for (const f of faults(s, 'unlink')) expect(s.edges.some((e) => e.includes(f.node) && e.includes((f.what as { peer: string }).peer))).toBe(true);
      for (const f of faults(s, 'move')) expect(s.relays).toEqual(expect.arrayContaining([(f.what as { from: string }).from, (f.what as { to: string }).to]));
    }
    // Closed again within a few round trips of the re-link (mid-catch-up), twins closing either link or kept, moves.
    const again = (s: Schedule) => faults(s, 'unlink').some((f, i, xs) => xs.slice(i + 1).some((g) => g.node === f.node && (g.what as { peer: string }).peer === (f.what as { peer: string }).peer && g.at - f.at < 3000));
    expect(all.some(again)).toBe(true);
    const twins = all.flatMap((s) => faults(s, 'twin').map((f) => f.what as { closeFirst: boolean; keep: boolean }));
    expect(twins.some((w) => w.closeFirst) && twins.some((w) => !w.closeFirst) && twins.some((w) => w.keep)).toBe(true);
    expect(all.some((s) => faults(s, 'move').length > 0)).toBe(true);
    expect(all.some((s) => s.features.includes('relay-hub')) && all.some((s) => !s.relays.length)).toBe(true);
    for (const f of FAMILIES.filter((x) => x !== 'relink')) for (const s of family(f)) for (const k of kinds) expect(faults(s, k)).toEqual([]);
  });

  it('typed-delete: counters and sets deleted while a peer is away, then written again; no other family deletes a typed key', () => {
    const typed = [...COUNTERS, ...SETS];
    const typedDeletes = (s: Schedule) => s.ops.filter((o) => o.what.kind === 'delete' && typed.includes(o.what.key));
    const all = family('typed-delete');
    let afterRestore = 0;
    for (const s of all) {
      expect(s.features).not.toContain('tiny-frames');
      const deletes = typedDeletes(s);
      // Every schedule but one emptying its space (gc-relay) deletes typed keys.
      if (!deletes.length) {
        expect(s.features).toContain('gc-relay');
        continue;
      }
      for (const d of deletes) {
        // Written again after the delete (later in the schedule's order), by some node, within the operations.
        expect(s.ops.slice(s.ops.indexOf(d) + 1).some((o) => o.what.key === d.what.key && o.what.kind !== 'delete' && o.what.kind !== 'get')).toBe(true);
      }
      // Some node is away over some delete of each schedule, and writes the key meanwhile.
      const awayOver = deletes.some((d) =>
        faults(s, 'away').some((f) => f.node !== d.node && f.at < d.at && f.at + (f.what as { for: number }).for > d.at && s.ops.some((o) => o.node === f.node && o.what.key === d.what.key && o.at > f.at && o.at < f.at + (f.what as { for: number }).for)),
      );
      expect(awayOver).toBe(true);
      if (faults(s, 'restore').length) afterRestore++;
    }
    // Deletes with a context read before, by a tab other than the one writing again, and counters and sets both.
    const deletes = all.flatMap(typedDeletes);
    expect(deletes.some((d) => (d.what as { withCtx: boolean }).withCtx) && deletes.some((d) => !(d.what as { withCtx: boolean }).withCtx)).toBe(true);
    expect(deletes.some((d) => COUNTERS.includes(d.what.key)) && deletes.some((d) => SETS.includes(d.what.key))).toBe(true);
    expect(all.some((s) => Object.keys(s.tabs).length > 0 && typedDeletes(s).some((d) => s.tabs[d.node]))).toBe(true);
    expect(afterRestore).toBeGreaterThan(0);
    for (const f of FAMILIES.filter((x) => x !== 'typed-delete')) for (const s of family(f)) expect(typedDeletes(s)).toEqual([]);
  });

  it('the families are the mixed generator and one per fault class', () => {
    expect(FAMILIES).toEqual(['mixed', ...FEATURES]);
  });
});
