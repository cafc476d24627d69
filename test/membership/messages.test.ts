import { describe, expect, it } from 'vitest';
import { defaultLimits, parseMessage } from '../../lib/membership/messages.js';

const u = { id: 'b', address: 'ws://b', incarnation: 2, state: 'suspect' };

describe('parseMessage', () => {
  it.each([
    ['ping', { type: 'ping', seq: 1, src: 'a', target: 'b', updates: [u] }],
    ['ping-req', { type: 'ping-req', seq: 1, src: 'a', target: 'b', address: 'ws://b', updates: [] }],
    ['ack', { type: 'ack', seq: 0, src: 'b', updates: [] }],
    ['gossip', { type: 'gossip', src: 'a', updates: [u] }],
    ['push-pull', { type: 'push-pull', src: 'a', join: true, reply: false, members: [u] }],
    ['an id naming an Object.prototype member', { type: 'gossip', src: '__proto__', updates: [{ ...u, id: 'constructor' }] }],
  ])('accepts a well-formed %s', (_, m) => {
    const r = parseMessage(m);
    expect(r).toEqual({ ok: true, message: m });
  });

  it('copies only known fields', () => {
    const r = parseMessage({ type: 'ack', seq: 3, src: 'b', updates: [{ ...u, extra: 1 }], extra: 'x' });
    expect(r).toEqual({ ok: true, message: { type: 'ack', seq: 3, src: 'b', updates: [u] } });
  });

  const long = 'x'.repeat(defaultLimits.maxIdLength + 1);
  it.each([
    ['null', null],
    ['an array', []],
    ['a string', 'ping'],
    ['an unknown type', { type: 'pong', seq: 1, src: 'a', updates: [] }],
    ['no src', { type: 'ack', seq: 1, updates: [] }],
    ['an empty src', { type: 'ack', seq: 1, src: '', updates: [] }],
    ['an overlong src', { type: 'ack', seq: 1, src: long, updates: [] }],
    ['a fractional seq', { type: 'ack', seq: 1.5, src: 'a', updates: [] }],
    ['a negative seq', { type: 'ack', seq: -1, src: 'a', updates: [] }],
    ['a string seq', { type: 'ack', seq: '1', src: 'a', updates: [] }],
    ['a ping without target', { type: 'ping', seq: 1, src: 'a', updates: [] }],
    ['a ping-req without address', { type: 'ping-req', seq: 1, src: 'a', target: 'b', updates: [] }],
    ['updates not an array', { type: 'gossip', src: 'a', updates: {} }],
    ['too many updates', { type: 'gossip', src: 'a', updates: Array.from({ length: defaultLimits.maxUpdates + 1 }, () => u) }],
    ['an update with an unknown state', { type: 'gossip', src: 'a', updates: [{ ...u, state: 'zombie' }] }],
    ['an update with a negative incarnation', { type: 'gossip', src: 'a', updates: [{ ...u, incarnation: -1 }] }],
    ['an update with an infinite incarnation', { type: 'gossip', src: 'a', updates: [{ ...u, incarnation: Infinity }] }],
    ['an update with an overlong address', { type: 'gossip', src: 'a', updates: [{ ...u, address: 'x'.repeat(defaultLimits.maxAddressLength + 1) }] }],
    ['an update that is null', { type: 'gossip', src: 'a', updates: [null] }],
    ['push-pull with a non-boolean reply', { type: 'push-pull', src: 'a', join: false, reply: 'no', members: [] }],
    ['push-pull with too many members', { type: 'push-pull', src: 'a', join: false, reply: false, members: Array.from({ length: defaultLimits.maxMembers + 1 }, () => u) }],
  ])('rejects %s with a reason', (_, m) => {
    const r = parseMessage(m);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(/\w/);
  });
});

describe('parseMessage with an address check (the relay passes isMemberAddress)', () => {
  const wsOnly = (a: string) => a.startsWith('ws://') && !a.includes('@');
  it('drops a whole message naming one address the check refuses', () => {
    expect(parseMessage({ type: 'gossip', src: 'a', updates: [u] }, defaultLimits, wsOnly).ok).toBe(true);
    expect(parseMessage({ type: 'gossip', src: 'a', updates: [u, { ...u, id: 'c', address: 'http://c' }] }, defaultLimits, wsOnly).ok).toBe(false);
    expect(parseMessage({ type: 'push-pull', src: 'a', join: true, reply: false, members: [{ ...u, address: 'ws://x:y@c' }] }, defaultLimits, wsOnly).ok).toBe(false);
    expect(parseMessage({ type: 'ping-req', seq: 1, src: 'a', target: 'b', address: 'javascript:1', updates: [] }, defaultLimits, wsOnly).ok).toBe(false);
  });
});
