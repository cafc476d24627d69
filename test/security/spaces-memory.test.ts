/**
 * Issue 11 #3: every space a client names used to cost the relay a full Merkle tree (~840 KB), cached
 * forever: one 17 KB hello naming 1 500 spaces added over 400 MiB, still held after the client left. Now
 * trees are sparse, idle indexes are evicted, at most maxIndexes are held, and a connection may name at
 * most maxSpacesPerConnection spaces.
 *
 * Measured two ways: the counts the relay exposes on /metrics (in process, with a relay clock the test
 * moves forward past the idle period), and process memory of a relay running as a child process.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildCli, spawnRelay, type RelayProcess } from '../relay/child.js';
import { rawSession, syncItem } from './raw-session.js';
import { closeAll, request, tracker, until } from './support.js';

const t = tracker();
let cli = '';
let cleanup = async () => {};
let child: RelayProcess | undefined;
beforeAll(async () => {
  ({ cli, cleanup } = await buildCli());
}, 120_000);
afterAll(async () => {
  child?.child.kill('SIGKILL');
  await closeAll(...t.open);
  await cleanup();
});

function gauge(text: string, name: string): number {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
  if (!m) throw new Error(`no ${name} in /metrics`);
  return Number(m[1]);
}

/** One client naming `n` spaces in its hello (all empty on the relay), waiting until the relay answered each. */
async function flood(url: string, prefix: string, n: number): Promise<void> {
  const s = rawSession(url, { spaces: Array.from({ length: n }, (_, i) => syncItem(`${prefix}-${i}`)) });
  await s.ready;
  await until(() => s.frames.length > n || s.isClosed, 'the relay answered every space', 20_000);
  s.close();
  await s.closed;
}

describe('memory per space name (#3)', () => {
  it('holds index state for a bounded number of spaces, and drops it once idle', async () => {
    let offset = 0;
    const relay = await t.relay({ now: () => Date.now() + offset });
    const metrics = async () => request(relay.port, { path: '/metrics' }).then((r) => r.body);
    for (let c = 0; c < 3; c++) await flood(relay.url, `c${c}`, 1000);
    const during = await metrics();
    // 3 000 spaces named: each holds an (empty, sparse) index until idle; no tree node is allocated for them.
    expect(gauge(during, 'concord_relay_indexed_spaces')).toBeLessThanOrEqual(4096);
    expect(gauge(during, 'concord_relay_index_nodes')).toBe(0);
    // The clients left; a minute later (relay time) the next session's end sweeps the idle indexes away.
    offset = 61_000;
    await flood(relay.url, 'later', 1);
    expect(gauge(await metrics(), 'concord_relay_indexed_spaces')).toBeLessThanOrEqual(1);
  });

  it('a relay process stays within a few MiB while clients name thousands of spaces (child process memory)', async () => {
    child = await spawnRelay(cli, ['--port', '0', '--host', '127.0.0.1']);
    const url = `ws://127.0.0.1:${child.port}`;
    const memory = async () => {
      const text = (await request(child!.port, { path: '/metrics' })).body;
      return gauge(text, 'concord_relay_process_memory_bytes\\{kind="heapUsed"\\}') + gauge(text, 'concord_relay_process_memory_bytes\\{kind="arrayBuffers"\\}');
    };
    await flood(url, 'warm', 10);
    const before = await memory();
    await flood(url, 'a', 1000);
    await flood(url, 'b', 500);
    const after = await memory();
    const grown = (after - before) / 2 ** 20;
    // On the old relay these 1 500 spaces held ~1.2 GiB of typed arrays; the bound leaves room for GC timing.
    expect(grown, `grew ${grown.toFixed(1)} MiB`).toBeLessThan(48);
  });
});
