/**
 * Review rev46d: a read-only client reconnecting. Since rev46b a read-only client's log frames move no cursor and its
 * fresh cursor is stored only where none is (space-sync.ts `decide`): does an honest reader now pay an anti-entropy run
 * at every meeting? Its first meeting with this relay holds keys on both sides (it read the space at another relay), so
 * that meeting runs anti-entropy; the meetings after it should stream (each side's cursor fits), not run again.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createToken } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { PROTOCOL_VERSIONS } from '../../lib/sync/messages.js';
import { SECRET, tracker, until } from '../security/support.js';

const t = tracker();
afterAll(async () => {
  for (const x of t.open) await x.close();
});

const readToken = createToken(SECRET, { spaces: { s: 'read', t: 'write' }, expiresIn: 600, sub: 'r' });
const writeToken = createToken(SECRET, { spaces: { s: 'write' }, expiresIn: 600, sub: 'w' });
const KEYS = 50;

describe('a read-only client that first met this relay holding keys, reconnecting', () => {
  // Also a reader of an earlier release (protocol 10: no epoch dots, the rev46b rules the same).
  it.each([['this release', undefined], ['protocol 10', PROTOCOL_VERSIONS.filter((v) => v <= 10)]] as const)('runs anti-entropy at its first meeting only (%s)', async (_, speaks) => {
    const relay = await t.relay({ secret: SECRET });
    const elsewhere = await t.relay({ secret: SECRET });
    for (const url of [relay.url, elsewhere.url]) {
      const writer = t.add(await openReplica({ storage: memoryStorage() }));
      writer.connect(webSocketTransport(url, { token: writeToken }), { backoff: { base: 20, max: 200 } });
      for (let i = 0; i < KEYS; i++) await writer.space('s').put(`w/${i}`, i);
      await writer.whenSynced();
      await writer.close();
    }
    const reader = t.add(await openReplica({ storage: memoryStorage(), ...(speaks ? { speaks: [...speaks] } : {}) }));
    const first = reader.connect(webSocketTransport(elsewhere.url, { token: createToken(SECRET, { spaces: { s: 'read' }, expiresIn: 600, sub: 'r' }) }), { backoff: { base: 20, max: 200 } });
    await until(async () => (await reader.space('s').get(`w/${KEYS - 1}`))?.value === KEYS - 1, 'it read the other relay');
    first.close();
    // Its token writes in space t: its log is not empty, so the relay's cursor of it decides the meeting in s.
    for (let i = 0; i < 3; i++) await reader.space('t').put(`own/${i}`, i);
    let runs = 0;
    relay.replica.on('antiEntropy', (run) => void (run.peer === reader.replicaId && run.space === 's' && runs++));
    reader.on('antiEntropy', (run) => void (run.peer === relay.replica.replicaId && run.space === 's' && runs++));
    const perMeeting: number[] = [];
    for (let meeting = 0; meeting < 4; meeting++) {
      const before = runs;
      const link = reader.connect(webSocketTransport(relay.url, { token: readToken }), { backoff: { base: 20, max: 200 } });
      await until(() => link.status === 'synced' && (meeting > 0 || runs >= 2), `meeting ${meeting} synced`, 20_000);
      await reader.space('t').put(`own/m${meeting}`, meeting);
      await reader.whenSynced();
      link.close();
      perMeeting.push(runs - before);
    }
    // Both sides report the first meeting's run; none after it.
    expect(perMeeting).toEqual([2, 0, 0, 0]);
    // Its token now writes s too (same id): the cursor it was kept at holds nothing of its log, so its write is stored.
    await reader.close();
    const again = t.add(await openReplica({ storage: reader.core.storage, ...(speaks ? { speaks: [...speaks] } : {}) }));
    again.connect(webSocketTransport(relay.url, { token: createToken(SECRET, { spaces: { s: 'write', t: 'write' }, expiresIn: 600, sub: 'r' }) }), { backoff: { base: 20, max: 200 } });
    await (await again.space('s').put('mine', 1)).synced;
    expect((await relay.replica.space('s').get('mine'))?.value).toBe(1);
  });
});
