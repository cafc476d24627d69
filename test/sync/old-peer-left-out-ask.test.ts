/**
 * A key whose state names an epoch is left out toward a peer below 11 (docs/design/epochs-build.md, item 6), and only
 * its context alone goes (fit-state.ts). The entry of a replica with a version in the state goes lowered to the peer's
 * versions of it that the state superseded — which the link must know. A peer back from a restart, catching up from
 * its cursor with anti-entropy off, had told nothing of its state: the context alone left the writer's entry out (or
 * was not sent at all), and the peer kept the writer's superseded version for good (restore-once 1743400010: d kept
 * f's k15 and b's k4 beside relay a's collected deletes). Now such a key is asked for (NEED) and the peer's answer, or
 * any state of the key it sends, makes the context alone go again, lowered to what it holds (need-answers.ts `heard`).
 *
 * Simulated network and disks (test/sim/cluster.ts), virtual time.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { IDENTITY_META } from '../../lib/identity.js';
import { EPOCH_DOTS } from '../../lib/sync/epoch-wire.js';
import { MsgType, PROTOCOL_VERSIONS, decodeMessage, type Message } from '../../lib/sync/messages.js';
import { Wire } from '../../lib/sync/wire.js';
import type { Frame } from '../../lib/transport.js';
import { Cluster } from '../sim/cluster.js';

const OLD: readonly number[] = PROTOCOL_VERSIONS.filter((v) => v < EPOCH_DOTS);
const WITH_11: readonly number[] = [...OLD, EPOCH_DOTS];
const clusters: Cluster[] = [];
afterEach(async () => {
  for (const c of clusters.splice(0)) await c.close();
});

/** Relay `hub` at 11; `a` at 11 (it tags once reopened); `w` and `old` of an earlier release; anti-entropy off. */
async function cluster(needs: Array<[string, string]>): Promise<Cluster> {
  const speaks: Record<string, readonly number[]> = { hub: WITH_11, a: WITH_11, w: OLD, old: OLD };
  const names = Object.keys(speaks);
  const c = await Cluster.create({
    seed: 7,
    nodes: names,
    edges: names.filter((n) => n !== 'hub').map((n) => ['hub', n] as const),
    relay: 'hub',
    speaks,
    link: { antiEntropyInterval: 0, backoff: { base: 20, max: 500 } },
    net: {
      tap: (from: string, to: string, frame: Frame) => {
        if (typeof frame === 'string' || frame[0] !== MsgType.Need) return;
        const m = decodeMessage(frame, { maxValueBytes: 1 << 20 });
        if (m.type === MsgType.Need) for (const [k] of m.keys) needs.push([`${from}->${to}`, k]);
      },
    },
  });
  clusters.push(c);
  await c.settle();
  await c.restart('a'); // a met the relay at 11: it tags from here
  await c.settle();
  expect((await c.drive(c.node('a').storage.getMeta<{ tagged?: string }>(IDENTITY_META)))?.tagged).toBeDefined();
  return c;
}

const space = (c: Cluster, node: string) => c.node(node).r.space('s');
const versions = (c: Cluster, node: string, key: string) =>
  (c.node(node).disk.records('s').find(([k]) => k === key)?.[1].vs ?? []).map((v) => (v.d ? `${v.r === c.node('w').r.replicaId ? 'w' : v.r}:del` : JSON.parse(v.v as string)));

/**
 * `old` holds w's k; while it is away a (tagging) deletes k and w writes it again: the relay's state of k holds w's
 * new version and a's tagged delete — left out toward `old`, whose superseded version only a context naming w's entry,
 * lowered to it, can drop (a has only a tagged point, which no peer below 11 takes).
 */
async function awayWhileSuperseded(c: Cluster): Promise<void> {
  await c.drive(space(c, 'w').put('k', 'superseded'));
  await c.settle();
  expect(versions(c, 'old', 'k')).toEqual(['superseded']);
  await c.stop('old');
  const passes = () => c.clock.advance(5_000); // settle() waits for every node up
  await c.drive(space(c, 'a').delete('k'));
  await passes();
  await c.drive(space(c, 'w').put('k', 'again'));
  await passes();
  expect(versions(c, 'hub', 'k')).toContain('again'); // beside a's delete, which w never got (tagged)
  expect(c.node('hub').disk.records('s').find(([k]) => k === 'k')?.[1].pts, 'the relay\'s state names a\'s epoch').toBeDefined();
}

describe('a key left out toward a peer below 11 whose state there the link does not know', () => {
  it('is asked for, and the peer back from a restart drops the version the left-out state superseded', async () => {
    const needs: Array<[string, string]> = [];
    const c = await cluster(needs);
    await awayWhileSuperseded(c);
    await c.start('old');
    await c.settle();
    // Before: the catch-up left k out with no context (w has a version in the state, a only a tagged point), and old
    // kept "superseded" for good. The state itself still cannot reach old (item 6): it holds nothing of k now.
    expect(versions(c, 'old', 'k')).toEqual([]);
    expect(await c.drive(space(c, 'old').get('k'))).toBeUndefined();
    expect(needs).toEqual([['hub->old', 'k']]);
    // Once a session: the key is not asked for again while the link knows the peer's state.
    await c.drive(space(c, 'w').put('k', 'third'));
    await c.settle();
    expect(needs).toEqual([['hub->old', 'k']]);
    expect(versions(c, 'old', 'k')).toEqual([]);
  });

  // The wire alone (lib/sync/wire.ts): toward a peer below 11 (no epochs on the link), a tagged state is left out.
  const tagged = (n: number) => ({ vs: [{ r: 'W', n, t: 1, c: 0, v: '"x"' }], cc: { W: n, A: 3 }, pts: { A: [{ e: 'E1', n: 3 }] } });
  const sent = (keys: readonly string[], limit = 1 << 20) => {
    const wire = new Wire((e) => void e);
    const receiver = new Wire((e) => void e);
    wire.start('me', 'peer', 0);
    receiver.start('peer', 'me', 0);
    const frames: Message[] = [];
    const send = (m: Message) => wire.send(m, limit, (f) => frames.push(receiver.decode(f, 1 << 20)!));
    send({ type: MsgType.Changes, space: 's', upTo: 9, entries: keys.map((k, i) => [k, tagged(i + 1)] as const) });
    return { frames, wire, send };
  };
  const asked = (frames: readonly Message[]) => frames.flatMap((m) => (m.type === MsgType.Need ? [m.keys.map(([k]) => k)] : []));

  it('asks after the frame that left the keys out, in NEEDs that fit the frame limit, once a session, and not where the peer told its state', () => {
    const { frames, wire, send } = sent(['k1', 'k2']);
    expect(frames.map((m) => m.type)).toEqual([MsgType.Changes, MsgType.Need]);
    expect(asked(frames)).toEqual([['k1', 'k2']]);
    send({ type: MsgType.Changes, space: 's', upTo: 10, entries: [['k1', tagged(5)]] });
    expect(asked(frames), 'once').toEqual([['k1', 'k2']]);
    wire.model.observe('s', 'k3', { vs: [], cc: { W: 1 } }, true);
    send({ type: MsgType.Changes, space: 's', upTo: 11, entries: [['k3', tagged(6)]] });
    expect(asked(frames), 'the peer told its state of k3').toEqual([['k1', 'k2']]);
    // A state with no version (a collected delete) tells its context alone whole: nothing to ask.
    send({ type: MsgType.Changes, space: 's', upTo: 12, entries: [['k4', { ...tagged(7), vs: [] }]] });
    expect(asked(frames), 'k4 holds no version').toEqual([['k1', 'k2']]);
    const many = Array.from({ length: 40 }, (_, i) => `key-${String(i).padStart(3, '0')}`);
    const small = sent(many, 160);
    const needs = asked(small.frames);
    expect(needs.length).toBeGreaterThan(1);
    expect(needs.flat()).toEqual(many);
  });
  // A read-only client is asked too: its answer is refused, never stored, yet heard by the link (need-answers.ts refuse;
  // test/review/left-out-ask-cluster.test.ts).
});
