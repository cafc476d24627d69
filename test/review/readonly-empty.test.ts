/**
 * Review probe: a read-only client with an offline write, in a space the relay holds nothing of (so the first meeting
 * streams logs instead of comparing trees).
 * e10f172 stopped the anti-entropy offers only; the log stream still uploaded the offline writes (20 KB, refused: a
 * second FORBIDDEN from the relay's DENIED), and the link stayed 'syncing' (still so after 3 s; on ef960dc the same,
 * with 9 FORBIDDEN). Fixed by ecc47c0: a client granted read streams none of its log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createToken, type Relay } from '../../adapters/relay/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { isConcordError, memoryStorage, openReplica, type Replica } from '../../lib/index.js';
import { closeAll, countingTransport, SECRET, startRelay, until } from '../relay/support.js';

let relay: Relay;
const open: Replica[] = [];
beforeAll(async () => {
  relay = await startRelay({ secret: SECRET });
});
afterAll(() => closeAll(...open, relay));

describe('a read-only client with an offline write, the relay holding nothing of the space', () => {
  it('its link settles, it uploads nothing to be refused, and it is told once', async () => {
    const readToken = createToken(SECRET, { spaces: { empty: 'read' }, expiresIn: 60 });
    const reader = await openReplica({ storage: memoryStorage() });
    open.push(reader);
    const errors: unknown[] = [];
    reader.on('error', (e) => errors.push(e));
    for (let i = 0; i < 20; i++) await reader.space('empty').put(`offline/${i}`, 'x'.repeat(1000));
    const { transport, sent } = countingTransport(webSocketTransport(relay.url, { token: readToken }));
    const link = reader.connect(transport, { antiEntropyInterval: 100 });
    await until(() => reader.space('empty').readOnly, 'read-only known');
    await new Promise((r) => setTimeout(r, 1500));
    expect({
      link: link.status,
      forbidden: errors.filter((e) => isConcordError(e, 'FORBIDDEN')).length,
      uploadedLessThan8k: sent() < 8000,
    }).toEqual({ link: 'synced', forbidden: 1, uploadedLessThan8k: true });
  });
});
