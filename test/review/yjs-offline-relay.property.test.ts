// Documents edited offline on several devices, meeting through a relay over 127.0.0.1 (seeded): random edit streams
// (keystrokes, pastes, deletions of runs) on two devices going on and off line, each device closed and reopened from
// its storage now and then (its doc bound anew), a third replica catching up at the end from the relay. Every doc's
// text, and every replica's stored document, must equal a reference Y.Doc that received every local edit: every
// character of both kept, none duplicated, the same on all.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, isYjsValue, openDoc } from '../../adapters/yjs/index.js';
import { webSocketTransport } from '../../adapters/ws/index.js';
import { memoryStorage, openReplica, type Replica, type StorageAdapter } from '../../lib/index.js';
import { closeAll, startRelay, until } from '../relay/support.js';
import { prng, testSeed } from '../support/replicas.js';

const SEED = testSeed();
const KEY = 'docs/notes';
const ROUNDS = 8;

interface Device {
  storage: StorageAdapter;
  replica: Replica;
  doc: Y.Doc;
  link?: { close(): void };
}

const text = (doc: Y.Doc) => doc.getText('body').toString();

async function storedText(r: Replica): Promise<string> {
  const got = await r.space('s').get(KEY);
  if (!got || !isYjsValue(got.value)) return '<none>';
  const d = new Y.Doc();
  Y.applyUpdate(d, got.value);
  return text(d);
}

describe('documents edited offline, meeting through a relay (seeded)', () => {
  it('every edit of every device is in every doc and every stored state, once', async () => {
    const rnd = prng(SEED);
    const relay = await startRelay();
    const reference = new Y.Doc();
    const devices: Device[] = [];
    const why = `SEED=${SEED}`;
    const bind = async (d: Omit<Device, 'doc'> & { doc?: Y.Doc }): Promise<Device> => {
      const doc = await openDoc(d.replica.space('s'), KEY, { writeDelay: Math.floor(rnd() * 8), onError: () => {} });
      doc.on('update', (u: Uint8Array, origin: unknown) => {
        if (origin === null || origin === undefined) Y.applyUpdate(reference, u); // a local edit
      });
      return Object.assign(d, { doc }) as Device;
    };
    const online = (d: Device, on: boolean) => {
      if (on && !d.link) d.link = d.replica.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
      if (!on && d.link) (d.link.close(), (d.link = undefined));
    };
    const edit = (d: Device) => {
      const t = d.doc.getText('body');
      const r = rnd();
      if (r < 0.6) t.insert(Math.floor(rnd() * (t.length + 1)), String.fromCharCode(97 + Math.floor(rnd() * 26)));
      else if (r < 0.7) t.insert(Math.floor(rnd() * (t.length + 1)), `[paste ${Math.floor(rnd() * 1e6)} ${'é😀'.repeat(1 + Math.floor(rnd() * 20))}]`);
      else if (t.length > 0) {
        const at = Math.floor(rnd() * t.length);
        t.delete(at, Math.min(t.length - at, 1 + Math.floor(rnd() * (r < 0.9 ? 1 : 12))));
      }
    };
    try {
      for (let i = 0; i < 2; i++) {
        const storage = memoryStorage();
        devices.push(await bind({ storage, replica: await openReplica({ storage }) }));
      }
      for (let round = 0; round < ROUNDS; round++) {
        for (const d of devices) online(d, rnd() < 0.5);
        for (let k = 0, n = 5 + Math.floor(rnd() * 40); k < n; k++) {
          const d = devices[Math.floor(rnd() * devices.length)]!;
          edit(d);
          if (rnd() < 0.1) await new Promise((r) => setTimeout(r, Math.floor(rnd() * 15)));
        }
        await Promise.all(devices.map((d) => flushDoc(d.doc)));
        if (rnd() < 0.3) {
          // A device closed (its edits flushed) and reopened from its storage: a doc bound anew loads the key.
          const i = Math.floor(rnd() * devices.length);
          const d = devices[i]!;
          online(d, false);
          await flushDoc(d.doc);
          d.doc.destroy();
          await d.replica.close();
          devices[i] = await bind({ storage: d.storage, replica: await openReplica({ storage: d.storage }) });
          expect(text(devices[i]!.doc), `${why} round ${round}: the reopened doc holds what its device stored`).toBe(await storedText(devices[i]!.replica));
        }
        if (devices.every((d) => d.link)) {
          // Both online, every edit flushed: each doc shows every edit of both, without a further edit to pull it in.
          const want = text(reference);
          await until(() => devices.every((d) => text(d.doc) === want), `${why} round ${round}: both docs equal to the reference`, 10_000).catch(() => undefined);
          for (const d of devices) expect(text(d.doc), `${why} round ${round}: a device's doc while both are online`).toBe(want);
        }
        await new Promise((r) => setTimeout(r, Math.floor(rnd() * 30)));
      }
      for (const d of devices) online(d, true);
      const late = await openReplica({ storage: memoryStorage() });
      late.space('s');
      late.connect(webSocketTransport(relay.url), { backoff: { base: 20, max: 200 } });
      const want = text(reference);
      const all = [...devices.map((d) => d.replica), late];
      await until(async () => devices.every((d) => text(d.doc) === want) && (await Promise.all(all.map(storedText))).every((t) => t === want), `${why}: every doc and stored state equal to the reference`, 20_000).catch(() => undefined);
      for (const d of devices) expect(text(d.doc), `${why}: a device's doc`).toBe(want);
      for (const r of all) expect(await storedText(r), `${why}: a replica's stored document`).toBe(want);
      const lateDoc = await openDoc(late.space('s'), KEY);
      expect(text(lateDoc), `${why}: a doc opened on the late replica`).toBe(want);
      lateDoc.destroy();
      await late.close();
    } finally {
      for (const d of devices) (online(d, false), d.doc.destroy());
      await closeAll(...devices.map((d) => d.replica), relay);
    }
  }, 60_000);
});
