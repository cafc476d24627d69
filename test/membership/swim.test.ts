/**
 * The SWIM state machine, driven by hand: messages are handed from one member to another explicitly, so
 * each test decides exactly which message is lost. Whole-cluster behaviour is in test/sim-membership.
 */
import { describe, expect, it } from 'vitest';
import { prng } from '../../lib/check-merge.js';
import { localConfig } from '../../lib/membership/config.js';
import type { Outbound, SwimMessage, Update } from '../../lib/membership/messages.js';
import { Swim, type SwimEvent } from '../../lib/membership/swim.js';
import { retransmitLimit, suspicionTimeout } from '../../lib/membership/timeouts.js';

const config = localConfig();
const addr = (id: string) => `ws://${id}`;

function cluster(ids: string[], seed = 1): Map<string, Swim> {
  const all = ids.map((id) => ({ id, address: addr(id) }));
  const m = new Map(ids.map((id, i) => [id, new Swim({ self: { id, address: addr(id) }, config, random: prng(seed + i), members: all })]));
  for (const s of m.values()) expect(s.tick(0)).toEqual([]); // the first tick starts the member's clock
  return m;
}

function get(m: Map<string, Swim>, id: string): Swim {
  const s = m.get(id);
  if (!s) throw new Error(id);
  return s;
}

/** Deliver `out` (sent by `from`) to its addressees, except those `drop` refuses; returns their answers. */
function deliver(m: Map<string, Swim>, now: number, from: string, out: Outbound[], drop: (o: Outbound) => boolean = () => false): Array<[string, Outbound[]]> {
  const answers: Array<[string, Outbound[]]> = [];
  for (const o of out) {
    if (drop(o)) continue;
    const id = o.to.slice('ws://'.length);
    const s = m.get(id);
    if (s) answers.push([id, s.receive(now, addr(from), JSON.parse(JSON.stringify(o.message)))]);
  }
  return answers;
}

/** Deliver until no more messages flow (dropping what `drop` refuses). */
function flood(m: Map<string, Swim>, now: number, from: string, out: Outbound[], drop?: (o: Outbound) => boolean): void {
  let queue: Array<[string, Outbound[]]> = [[from, out]];
  while (queue.length > 0) {
    const next: Array<[string, Outbound[]]> = [];
    for (const [f, o] of queue) next.push(...deliver(m, now, f, o, drop));
    queue = next;
  }
}

/** Tick `id` at its own deadlines up to `until`, flooding everything it sends. */
function runMember(m: Map<string, Swim>, id: string, until: number, drop?: (o: Outbound) => boolean): void {
  const s = get(m, id);
  for (let guard = 0; guard < 10_000; guard++) {
    const t = s.nextDeadline();
    if (t > until) return;
    flood(m, t, id, s.tick(t), drop);
  }
  throw new Error('runMember: no progress');
}

const types = (events: SwimEvent[]) => events.map((e) => ('member' in e ? `${e.type} ${e.member.id}` : e.type));
const gossip = (src: string, updates: Update[]): SwimMessage => ({ type: 'gossip', src, updates });

describe('Swim: probing', () => {
  it('a member answering pings stays alive through many periods', () => {
    const m = cluster(['a', 'b', 'c']);
    for (const id of ['a', 'b', 'c']) get(m, id).takeEvents();
    for (let t = 0; t <= 50 * config.probeInterval; t += config.probeInterval) for (const id of ['a', 'b', 'c']) runMember(m, id, t);
    for (const id of ['a', 'b', 'c']) {
      expect(get(m, id).members().map((x) => x.state)).toEqual(['alive', 'alive', 'alive']);
      expect(get(m, id).takeEvents()).toEqual([]);
    }
  });

  it('pings each member once per pass of the shuffled round-robin', () => {
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
    const m = cluster(ids);
    const a = get(m, 'a');
    const targets: string[] = [];
    while (targets.length < 15) {
      const t = a.nextDeadline();
      const out = a.tick(t);
      for (const o of out) if (o.message.type === 'ping') targets.push(o.message.target);
      flood(m, t, 'a', out);
    }
    expect(targets).toHaveLength(15);
    for (let pass = 0; pass < 3; pass++) expect(new Set(targets.slice(pass * 5, pass * 5 + 5)).size).toBe(5);
  });

  it('an unanswered ping leads to ping-req through k others, and their forwarded ack keeps the target alive', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const m = cluster(ids);
    const a = get(m, 'a');
    // a's first probe; the direct ping (and only it) is lost.
    let t0 = 0;
    let ping: Outbound | undefined;
    while (!ping) {
      t0 = a.nextDeadline();
      ping = a.tick(t0).find((o) => o.message.type === 'ping');
    }
    const target = ping.message.type === 'ping' ? ping.message.target : '';
    expect(a.nextDeadline()).toBeLessThanOrEqual(t0 + config.probeTimeout);
    const t1 = t0 + config.probeTimeout;
    const reqs = a.tick(t1).filter((o) => o.message.type === 'ping-req');
    expect(reqs).toHaveLength(config.indirectChecks);
    expect(new Set(reqs.map((o) => o.to)).size).toBe(3);
    expect(reqs.map((o) => o.to)).not.toContain(addr(target));
    // Only the first helper's relay works: helper → target ping, target → helper ack, helper → a ack.
    flood(m, t1, 'a', reqs.slice(0, 1));
    a.tick(t0 + config.probeInterval);
    expect(a.member(target)?.state).toBe('alive');
    expect(types(a.takeEvents())).toEqual([]);
  });

  it('no ack, direct or indirect: suspect at the end of the period, dead after the suspicion timeout', () => {
    const ids = ['a', 'b', 'c', 'd'];
    const m = cluster(ids);
    const a = get(m, 'a');
    a.takeEvents();
    const t0 = a.nextDeadline();
    const out = a.tick(t0);
    const ping = out.find((o) => o.message.type === 'ping');
    const target = ping?.message.type === 'ping' ? ping.message.target : '';
    m.delete(target); // the target has crashed
    runMember(m, 'a', t0 + config.probeInterval);
    expect(a.member(target)?.state).toBe('suspect');
    expect(types(a.takeEvents())).toEqual([`suspect ${target}`]);
    const timeout = suspicionTimeout(config.suspicionMult, 4, config.probeInterval);
    runMember(m, 'a', t0 + config.probeInterval + timeout - 1);
    expect(a.member(target)?.state).toBe('suspect');
    runMember(m, 'a', t0 + config.probeInterval + timeout);
    expect(a.member(target)?.state).toBe('dead');
    expect(types(a.takeEvents())).toEqual([`dead ${target}`]);
    expect(a.size).toBe(3);
  });
});

describe('Swim: incarnations and refutation', () => {
  it('a suspected member refutes with a higher incarnation, and the refutation clears the suspicion', () => {
    const m = cluster(['a', 'b', 'c']);
    const [a, b] = [get(m, 'a'), get(m, 'b')];
    a.takeEvents();
    b.takeEvents();
    // c tells a and b that b is suspect at incarnation 0.
    a.receive(10, addr('c'), gossip('c', [{ id: 'b', address: addr('b'), incarnation: 0, state: 'suspect' }]));
    expect(a.member('b')?.state).toBe('suspect');
    b.receive(10, addr('c'), gossip('c', [{ id: 'b', address: addr('b'), incarnation: 0, state: 'suspect' }]));
    expect(b.incarnation).toBe(1);
    expect(b.takeEvents()).toEqual([{ type: 'refuted', incarnation: 1, at: 10 }]);
    // b's next message to a carries alive@1 (a ping here, answered by a with an ack).
    const ack = a.receive(20, addr('b'), { type: 'ping', seq: 7, src: 'b', target: 'a', updates: [] });
    expect(ack[0]?.message).toMatchObject({ type: 'ack', seq: 7, updates: [{ id: 'b', state: 'suspect', incarnation: 0 }] });
    for (let t = 30; !(a.member('b')?.state === 'alive') && t < 30 + 20 * config.probeInterval; t += config.probeInterval) {
      runMember(m, 'b', t);
    }
    expect(a.member('b')).toMatchObject({ state: 'alive', incarnation: 1 });
    expect(types(a.takeEvents())).toEqual(['suspect b', 'alive b']);
  });

  it('a member declared dead refutes too, and a restart at incarnation 0 steps past its tombstone', () => {
    const m = cluster(['a', 'b']);
    const b = get(m, 'b');
    b.receive(0, addr('a'), gossip('a', [{ id: 'b', address: addr('b'), incarnation: 4, state: 'dead' }]));
    expect(b.incarnation).toBe(5);
    const fresh = new Swim({ self: { id: 'b', address: addr('b') }, config, random: prng(9) });
    fresh.receive(0, addr('a'), { type: 'push-pull', src: 'a', join: true, reply: true, members: [{ id: 'b', address: addr('b'), incarnation: 2, state: 'dead' }] });
    expect(fresh.incarnation).toBe(3);
  });

  it('stale news about ourselves changes nothing', () => {
    const m = cluster(['a', 'b']);
    const b = get(m, 'b');
    b.receive(0, addr('a'), gossip('a', [{ id: 'b', address: addr('b'), incarnation: 2, state: 'suspect' }]));
    expect(b.incarnation).toBe(3);
    b.receive(1, addr('a'), gossip('a', [{ id: 'b', address: addr('b'), incarnation: 2, state: 'dead' }, { id: 'b', address: addr('b'), incarnation: 3, state: 'alive' }]));
    expect(b.incarnation).toBe(3);
  });

  // Precedence: what member x's state becomes after gossip `before`, then `incoming`.
  const up = (state: Update['state'], incarnation: number): Update => ({ id: 'x', address: addr('x'), incarnation, state });
  it.each([
    ['alive 1', up('alive', 1), up('alive', 1), 'alive', 1],
    ['alive 2 over alive 1', up('alive', 1), up('alive', 2), 'alive', 2],
    ['alive 0 under alive 1', up('alive', 1), up('alive', 0), 'alive', 1],
    ['suspect 1 over alive 1', up('alive', 1), up('suspect', 1), 'suspect', 1],
    ['suspect 0 under alive 1', up('alive', 1), up('suspect', 0), 'alive', 1],
    ['alive 1 under suspect 1', up('suspect', 1), up('alive', 1), 'suspect', 1],
    ['alive 2 over suspect 1', up('suspect', 1), up('alive', 2), 'alive', 2],
    ['dead 1 over suspect 1', up('suspect', 1), up('dead', 1), 'dead', 1],
    ['dead 1 over alive 1', up('alive', 1), up('dead', 1), 'dead', 1],
    ['alive 1 under dead 1 (stale gossip cannot resurrect)', up('dead', 1), up('alive', 1), 'dead', 1],
    ['suspect 1 under dead 1', up('dead', 1), up('suspect', 1), 'dead', 1],
    ['alive 2 over dead 1 (a real comeback)', up('dead', 1), up('alive', 2), 'alive', 2],
    ['left 1 over alive 1', up('alive', 1), up('left', 1), 'left', 1],
    ['left 1 over dead 1', up('dead', 1), up('left', 1), 'left', 1],
    ['dead 1 under left 1', up('left', 1), up('dead', 1), 'left', 1],
    ['alive 1 under left 1', up('left', 1), up('alive', 1), 'left', 1],
    ['alive 2 over left 1 (rejoined)', up('left', 1), up('alive', 2), 'alive', 2],
  ])('%s', (_, before, incoming, state, incarnation) => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1) });
    s.receive(0, addr('y'), gossip('y', [up('alive', 0)]));
    s.receive(1, addr('y'), gossip('y', [before]));
    s.receive(2, addr('y'), gossip('y', [incoming]));
    expect(s.member('x')).toMatchObject({ state, incarnation });
  });

  it('a dead verdict arriving by push-pull only raises suspicion', () => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1), members: [{ id: 'x', address: addr('x') }] });
    const out = s.receive(0, addr('y'), { type: 'push-pull', src: 'y', join: false, reply: false, members: [{ id: 'x', address: addr('x'), incarnation: 0, state: 'dead' }] });
    expect(s.member('x')?.state).toBe('suspect');
    expect(out[0]?.message).toMatchObject({ type: 'push-pull', reply: true });
  });

  it('an unknown member learned dead is kept as a silent tombstone', () => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1) });
    s.receive(0, addr('y'), gossip('y', [{ id: 'x', address: addr('x'), incarnation: 3, state: 'dead' }]));
    expect(s.member('x')?.state).toBe('dead');
    expect(s.takeEvents()).toEqual([]);
    s.receive(0, addr('y'), gossip('y', [{ id: 'x', address: addr('x'), incarnation: 3, state: 'alive' }]));
    expect(s.member('x')?.state).toBe('dead');
  });

  it('tombstones expire after tombstoneRetention', () => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1) });
    s.receive(0, addr('y'), gossip('y', [{ id: 'x', address: addr('x'), incarnation: 3, state: 'left' }]));
    for (let t = 0; t <= config.tombstoneRetention + 20 * config.probeInterval; t = s.nextDeadline()) s.tick(t);
    expect(s.member('x')).toBeUndefined();
  });

  it('a new address at a higher incarnation is an update', () => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1), members: [{ id: 'x', address: addr('x') }] });
    s.receive(0, addr('y'), gossip('y', [{ id: 'x', address: 'ws://x2', incarnation: 1, state: 'alive' }]));
    expect(types(s.takeEvents())).toEqual(['updated x']);
    expect(s.member('x')?.address).toBe('ws://x2');
  });
});

describe('Swim: dissemination', () => {
  it('piggybacks an update retransmitLimit(mult, N) times, then drops it from the queue', () => {
    const ids = ['a', 'b', 'c', 'd', 'e'];
    const m = cluster(ids);
    const a = get(m, 'a');
    // c refutes a rumour, so c really is at incarnation 1; a hears of it.
    get(m, 'c').receive(0, addr('b'), gossip('b', [{ id: 'c', address: addr('c'), incarnation: 0, state: 'suspect' }]));
    a.receive(0, addr('b'), gossip('b', [{ id: 'c', address: addr('c'), incarnation: 1, state: 'alive' }]));
    expect(a.stats().queued).toBe(1);
    let carried = 0;
    for (let i = 0; i < 40; i++) {
      const t = a.nextDeadline();
      for (const o of a.tick(t)) {
        if ('updates' in o.message && o.message.updates.some((u) => u.id === 'c' && u.incarnation === 1)) carried++;
        flood(m, t, 'a', [o]);
      }
    }
    expect(carried).toBe(retransmitLimit(config.retransmitMult, 5));
    expect(a.stats().queued).toBe(0);
  });

  it('a ping to a member we suspect leads with that verdict, so it can refute at once', () => {
    const m = cluster(['a', 'b', 'c']);
    const a = get(m, 'a');
    a.receive(0, addr('c'), gossip('c', [{ id: 'b', address: addr('b'), incarnation: 0, state: 'suspect' }]));
    const ack = a.receive(1, addr('b'), { type: 'ping', seq: 1, src: 'b', target: 'a', updates: [] });
    expect(ack[0]?.message.type === 'ack' && ack[0].message.updates[0]).toEqual({ id: 'b', address: addr('b'), incarnation: 0, state: 'suspect' });
  });

  it('join: the seed answers with its state, the joiner learns everyone without re-gossiping it, the seed gossips the joiner', () => {
    const m = cluster(['a', 'b', 'c']);
    const d = new Swim({ self: { id: 'd', address: addr('d') }, config, random: prng(4) });
    m.set('d', d);
    const out = d.join(0, addr('a'));
    expect(out).toEqual([{ to: addr('a'), message: expect.objectContaining({ type: 'push-pull', join: true, reply: false }) }]);
    flood(m, 0, 'd', out);
    expect(d.members().map((x) => `${x.id} ${x.state}`)).toEqual(['a alive', 'b alive', 'c alive', 'd alive']);
    expect(types(d.takeEvents())).toEqual(['joined a', 'joined b', 'joined c']);
    expect(get(m, 'a').member('d')?.state).toBe('alive');
    expect(get(m, 'a').stats().queued).toBe(1); // the joiner, and nothing else
    expect(d.stats().queued).toBe(1); // its own alive
  });

  it('leave: gossips left, then stays silent and ignores messages', () => {
    const m = cluster(['a', 'b', 'c', 'd', 'e']);
    const a = get(m, 'a');
    const out = a.leave(0);
    expect(out.length).toBe(config.gossipFanout);
    expect(out[0]?.message).toMatchObject({ type: 'gossip', updates: [{ id: 'a', incarnation: 1, state: 'left' }] });
    flood(m, 0, 'a', out);
    const got = ['b', 'c', 'd', 'e'].filter((id) => get(m, id).member('a')?.state === 'left');
    expect(got.length).toBe(config.gossipFanout);
    expect(a.receive(1, addr('b'), { type: 'ping', seq: 1, src: 'b', target: 'a', updates: [] })).toEqual([]);
    let sent = 0;
    for (let i = 0; i < 30; i++) {
      const t = a.nextDeadline();
      const o = a.tick(t);
      expect(o.every((x) => x.message.type === 'gossip')).toBe(true);
      sent += o.length;
    }
    expect(sent).toBeGreaterThan(0);
    expect(a.stats().queued).toBe(0);
  });
});

describe('Swim: untrusted input', () => {
  it('ignores malformed messages and reports them as events', () => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1) });
    expect(s.receive(5, 'ws://evil', { type: 'ping', seq: 'x', src: 'e', target: 'me', updates: [] })).toEqual([]);
    expect(s.receive(5, 'ws://evil', 'garbage')).toEqual([]);
    expect(s.stats().malformed).toBe(2);
    expect(s.takeEvents()).toEqual([
      { type: 'malformed', from: 'ws://evil', reason: expect.any(String), at: 5 },
      { type: 'malformed', from: 'ws://evil', reason: expect.any(String), at: 5 },
    ]);
    expect(s.members().map((x) => x.id)).toEqual(['me']);
  });

  it('ignores a ping meant for another member at our address', () => {
    const s = new Swim({ self: { id: 'me', address: addr('me') }, config, random: prng(1) });
    expect(s.receive(0, addr('y'), { type: 'ping', seq: 1, src: 'y', target: 'someone-else', updates: [] })).toEqual([]);
    expect(s.stats().misdirected).toBe(1);
  });

  it('rejects a bad configuration', () => {
    expect(() => new Swim({ self: { id: 'a', address: 'x' }, config: localConfig({ probeTimeout: 200 }), random: Math.random })).toThrow(RangeError);
    expect(() => new Swim({ self: { id: '', address: 'x' }, config, random: Math.random })).toThrow(RangeError);
  });
});
