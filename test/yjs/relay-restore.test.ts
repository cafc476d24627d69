// A relay restored from an old copy of its data directory (docs/deltas.md, faults): its log starts a new epoch, so
// no cursor into the lost part is honoured; the document comes back by anti-entropy, as whole values, and deltas
// resume after. No client ends up with a version it cannot read, and the relay converges with the writer.
import { cp, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, openDoc } from '../../adapters/yjs/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Frame, type Replica, type Transport } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { closeAll, startRelay, until } from '../relay/support.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const textOf = async (r: Replica) => {
  const d = new Y.Doc();
  const v = (await r.space('s').get('doc'))?.value as Uint8Array | undefined;
  if (v) Y.applyUpdate(d, v);
  return d.getText('body').toString();
};

function recording(t: Transport, received: Uint8Array[]): Transport {
  return { ...t, label: t.label, open: (h) => t.open({ ...h, onMessage: (f: Frame) => (received.push(f as Uint8Array), h.onMessage(f)) }) };
}

describe('a relay restored from an old copy', () => {
  it('starts a new epoch: the document comes back whole by anti-entropy, then deltas resume; everyone converges', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'concord-restore-'));
    const backup = await mkdtemp(join(tmpdir(), 'concord-restore-copy-'));
    dirs.push(dataDir, backup);
    let relay = await startRelay({ dataDir });
    const port = relay.port;
    const writer = await openReplica({ storage: memoryStorage() });
    writer.space('s');
    const received: Uint8Array[] = [];
    writer.connect(recording(webSocketTransport(`ws://127.0.0.1:${port}`), received), { backoff: { base: 20, max: 100 } });
    const doc = await openDoc(writer.space('s'), 'doc', { writeDelay: 0 });
    const t = doc.getText('body');
    for (let i = 0; i < 30; i++) {
      t.insert(t.length, `early line ${i}\n`);
      await flushDoc(doc);
    }
    await until(() => writer.status === 'synced', 'synced before the copy');
    await relay.close();
    await cp(dataDir, backup, { recursive: true });
    relay = await startRelay({ dataDir, port });
    for (let i = 0; i < 30; i++) {
      t.insert(0, `late line ${i}\n`);
      await flushDoc(doc);
    }
    await until(() => writer.status === 'synced', 'synced before the restore');
    // The relay dies and is restored from the copy: it lost the late lines.
    await relay.close();
    await rm(dataDir, { recursive: true, force: true });
    await cp(backup, dataDir, { recursive: true });
    received.length = 0;
    relay = await startRelay({ dataDir, port });
    await until(() => writer.status === 'synced', 'synced after the restore', 10_000);
    // The cursor into the relay's lost epoch was refused: anti-entropy ran.
    expect(received.some((f) => f[0] === MsgType.AntiEntropy)).toBe(true);
    for (let i = 0; i < 5; i++) {
      t.insert(5, 'z');
      await flushDoc(doc);
    }
    const reader = await openReplica({ storage: memoryStorage() });
    reader.space('s');
    reader.connect(webSocketTransport(`ws://127.0.0.1:${port}`));
    await until(async () => (await textOf(reader)) === t.toString(), 'a new client reads the whole document', 10_000);
    await until(async () => writer.status === 'synced', 'writer synced');
    expect(await textOf(writer)).toBe(t.toString());
    doc.destroy();
    await closeAll(writer, reader, relay);
  });
});
