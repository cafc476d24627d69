/**
 * The scene of the NEED-toward-earlier-release reviews (left-out-ask-cluster, left-out-ask-stored): a relay at 11 (hub),
 * a tagging client (a), a writer (w) and a client (old) of an earlier release; w's k superseded while old is away, so the
 * hub's state of k is left out toward old and asked for (NEED). Simulated network and disks (test/sim/cluster.ts).
 */
import { expect } from 'vitest';
import { IDENTITY_META } from '../../lib/identity.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MsgType, PROTOCOL_VERSIONS, decodeMessage } from '../../lib/sync/messages.js';
import type { Frame } from '../../lib/transport.js';
import { SimDisk } from '../support/sim-disk.js';
import { Cluster, type ClusterOptions } from '../sim/cluster.js';
import type { VirtualClock } from '../sim/clock.js';

export const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
export const WITH_11: readonly number[] = [...OLD, EPOCH_DOTS];
const clusters: Cluster[] = [];
/** Closes the clusters made since the last call (each test file's afterEach). */
export async function closeClusters(): Promise<void> {
  for (const c of clusters.splice(0)) await c.close();
}

export interface Scene {
  /** Nodes and the protocol versions each speaks; `a` must be one at 11 (it tags once reopened). */
  speaks: Record<string, readonly number[]>;
  edges: ReadonlyArray<readonly [string, string]>;
  relays: readonly string[];
  readers?: readonly string[];
  /** Periodic anti-entropy (default off, as in restore-once 1743400010). */
  antiEntropy?: number;
  /** Sees every frame delivered (test/sim/network.ts `delivered`). */
  delivered?: (from: string, to: string, frame: Frame) => void;
  /** Replica instances (tabs) sharing a node's disk. */
  tabs?: Readonly<Record<string, number>>;
  /** A node's disk (default: durable at once). */
  disk?: (node: string, clock: VirtualClock) => SimDisk | undefined;
}

/** NEED frames seen, as `from->to key`. */
export async function cluster(scene: Scene, needs: string[]): Promise<Cluster> {
  const { delivered } = scene;
  const options: ClusterOptions = {
    seed: 11,
    nodes: Object.keys(scene.speaks),
    edges: scene.edges,
    relays: scene.relays,
    keptRelayIds: true,
    speaks: scene.speaks,
    ...(scene.readers ? { readers: scene.readers } : {}),
    ...(scene.tabs ? { tabs: scene.tabs } : {}),
    ...(scene.disk ? { disk: (n: string, clock: VirtualClock) => scene.disk!(n, clock) ?? new SimDisk({ timers: clock }) } : {}),
    link: { antiEntropyInterval: scene.antiEntropy ?? 0, backoff: { base: 20, max: 500 } },
    net: {
      tap: (from: string, to: string, frame: Frame) => {
        if (typeof frame === 'string' || frame[0] !== MsgType.Need) return;
        const m = decodeMessage(frame, { maxValueBytes: 1 << 20 });
        if (m.type === MsgType.Need) for (const [k] of m.keys) needs.push(`${from}->${to} ${k}`);
      },
      ...(delivered ? { delivered } : {}),
    },
  };
  const c = await Cluster.create(options);
  clusters.push(c);
  await c.settle();
  await c.restart('a'); // a met a peer at 11: it tags from here
  await c.settle();
  expect((await c.drive(c.node('a').storage.getMeta<{ tagged?: string }>(IDENTITY_META)))?.tagged).toBeDefined();
  return c;
}

export const space = (c: Cluster, node: string) => c.node(node).r.space('s');
export const values = (c: Cluster, node: string, key: string) =>
  (c.node(node).disk.records('s').find(([k]) => k === key)?.[1].vs ?? []).filter((v) => !v.d).map((v) => JSON.parse(v.v as string));

/**
 * `w` writes k; every node holds it. `away` stops; a (tagging) deletes k and w writes it again, so the state of k on the
 * relays holds w's new version beside a's tagged point: left out toward a peer below 11, whose "superseded" only a
 * context naming w's entry lowered to it can drop.
 */
export async function awayWhileSuperseded(c: Cluster, away: string, watch: readonly string[]): Promise<void> {
  await c.drive(space(c, 'w').put('k', 'superseded'));
  await c.settle();
  for (const n of watch) expect(values(c, n, 'k'), n).toEqual(['superseded']);
  await c.stop(away);
  const passes = () => c.clock.advance(5_000);
  await c.drive(space(c, 'a').delete('k'));
  await passes();
  await c.drive(space(c, 'w').put('k', 'again'));
  await passes();
}

export const STAR: Scene = {
  speaks: { hub: WITH_11, a: WITH_11, w: OLD, old: OLD },
  edges: [['hub', 'a'], ['hub', 'w'], ['hub', 'old']],
  relays: ['hub'],
};

/**
 * STAR (with `extra`), the link hub→old dropped as each of the first `times` NEEDs of hub's reaches old (the answer, made
 * after that frame is handled, has no link to go on): old is away while k is superseded, then started; the first cut is
 * done when this returns.
 */
export async function droppedAtNeed(needs: string[], times = 1, extra: Partial<Scene> = {}, cut = (c: Cluster) => c.net.isolate('old')): Promise<{ c: Cluster; cuts: () => number }> {
  let cuts = 0;
  let c: Cluster | undefined;
  const delivered = (from: string, to: string, frame: Frame) => {
    if (cuts >= times || from !== 'hub' || to !== 'old' || typeof frame === 'string' || frame[0] !== MsgType.Need) return;
    cuts++;
    cut(c!);
  };
  // Its own speaks: a test moves old to 11 in them (STAR's must stay as they are for the tests after it).
  c = await cluster({ ...STAR, speaks: { ...STAR.speaks }, ...extra, delivered }, needs);
  await awayWhileSuperseded(c, 'old', ['old']);
  await c.start('old');
  await c.clock.advance(2_000);
  expect(cuts, 'the link dropped as the NEED arrived').toBe(1);
  return { c, cuts: () => cuts };
}
