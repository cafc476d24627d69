/**
 * The relay's frame counters (adapters/relay/metrics.ts): counted per frame as two additions, folded into the
 * prom-client counters when /metrics is read — a write fanned out to n clients counts n frames, and prom-client's
 * label lookup per frame was a share of the relay's work per delivery (S7, issue 14). The scrape shows every frame.
 */
import { Counter } from 'prom-client';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RelayMetrics } from '../../adapters/relay/metrics.js';
import { MsgType } from '../../lib/sync/messages.js';

afterEach(() => void vi.restoreAllMocks());

const line = (text: string, name: string) => text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{'))?.split(' ').pop();
const value = (text: string, name: string, labels: string) =>
  Number(text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`))?.split(' ').pop() ?? 0);

describe('relay frame counters', () => {
  it('count a frame without prom-client; a scrape shows each frame once, by direction and type', async () => {
    // A counter's inc is its incWithoutExemplar, taken when the counter is made: spied on before.
    const inc = vi.spyOn(Counter.prototype as unknown as { incWithoutExemplar(): void }, 'incWithoutExemplar');
    const m = new RelayMetrics(async () => 0);
    const live = new Uint8Array([MsgType.Live, 1, 2, 3]);
    for (let i = 0; i < 100; i++) m.outbound(live, live.byteLength);
    m.inbound(new Uint8Array([MsgType.Hello, 0]), 2);
    m.inbound(new Uint8Array([MsgType.Ack, 0, 0]), 3);
    m.inbound('a text frame', 12);
    m.inbound(new Uint8Array(0), 0);
    // Counting touched no prom-client counter: a frame costs two additions.
    expect(inc).not.toHaveBeenCalled();
    inc.mockRestore();

    const first = (await m.text()).body;
    expect(value(first, 'concord_relay_messages_total', 'direction="out",type="changes"')).toBe(100);
    expect(value(first, 'concord_relay_bytes_total', 'direction="out"')).toBe(400);
    expect(value(first, 'concord_relay_messages_total', 'direction="in",type="hello"')).toBe(1);
    expect(value(first, 'concord_relay_messages_total', 'direction="in",type="ack"')).toBe(1);
    expect(value(first, 'concord_relay_messages_total', 'direction="in",type="text"')).toBe(1);
    expect(value(first, 'concord_relay_messages_total', 'direction="in",type="unknown"')).toBe(1);
    expect(value(first, 'concord_relay_bytes_total', 'direction="in"')).toBe(17);
    expect(line(first, 'concord_relay_sync_rounds_total')).toBe('1');

    // Read again: nothing counted twice; more frames add to the totals.
    expect(value((await m.text()).body, 'concord_relay_messages_total', 'direction="out",type="changes"')).toBe(100);
    m.outbound(live, live.byteLength);
    m.inbound(new Uint8Array([MsgType.Sync]), 1);
    const third = (await m.text()).body;
    expect(value(third, 'concord_relay_messages_total', 'direction="out",type="changes"')).toBe(101);
    expect(value(third, 'concord_relay_bytes_total', 'direction="out"')).toBe(404);
    expect(line(third, 'concord_relay_sync_rounds_total')).toBe('2');
  });
});
