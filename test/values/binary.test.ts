// Binary values (Uint8Array) are first-class: stored and sent as raw bytes, never base64 or JSON.
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { memoryStorage, openReplica, pairTransports } from '../../lib/index.js';
import { MsgType } from '../../lib/sync/messages.js';
import { synced } from '../sync/support.js';

function bytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

describe('binary values', () => {
  it('a Uint8Array comes back as one, equal, and a copy (mutating it changes nothing stored)', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    const s = r.space('s');
    const v = bytes(1000);
    await s.put('b', v);
    const got = (await s.get('b'))!.value as Uint8Array;
    expect(got).toBeInstanceOf(Uint8Array);
    expect(got).toEqual(v);
    got[0] = got[0]! ^ 255;
    expect((await s.get('b'))!.value).toEqual(v);
    await s.put('empty', new Uint8Array(0));
    expect((await s.get('empty'))!.value).toEqual(new Uint8Array(0));
    await r.close();
  });

  it('other binary views are refused with UNSERIALIZABLE_VALUE; the size limit counts bytes', async () => {
    const r = await openReplica({ storage: memoryStorage(), maxValueBytes: 1000 });
    const s = r.space('s');
    await expect(s.put('x', new Uint16Array(4))).rejects.toMatchObject({ code: 'UNSERIALIZABLE_VALUE' });
    await expect(s.put('x', new ArrayBuffer(4))).rejects.toMatchObject({ code: 'UNSERIALIZABLE_VALUE' });
    await expect(s.put('x', bytes(1000))).rejects.toMatchObject({ code: 'VALUE_TOO_LARGE' });
    await s.put('x', bytes(990));
    await r.close();
  });

  it('concurrent binary siblings are siblings (no merge): both shown, conflict', async () => {
    const [ta, tb] = pairTransports();
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    await a.space('s').put('k', bytes(10, 1));
    await b.space('s').put('k', bytes(10, 2));
    a.connect(ta);
    b.connect(tb);
    await synced(a, b);
    const got = (await a.space('s').get('k'))!;
    expect(got.conflict).toBe(true);
    expect(got.siblings).toHaveLength(2);
    await a.close();
    await b.close();
  });

  it('a 100 KB value costs about 100 KB in a CHANGES frame', async () => {
    const [ta, tb] = pairTransports();
    const sent: Uint8Array[] = [];
    const a = await openReplica({ storage: memoryStorage() });
    const b = await openReplica({ storage: memoryStorage() });
    a.space('s');
    b.space('s');
    const recording = { ...ta, open: async (h: Parameters<typeof ta.open>[0]) => {
      const conn = await ta.open(h);
      return { ...conn, send: (f: Uint8Array | string) => (sent.push(f as Uint8Array), conn.send(f)), close: (c?: number, r?: string) => conn.close(c, r) };
    } };
    a.connect(recording);
    b.connect(tb);
    await synced(a, b);
    const v = bytes(100_000);
    await a.space('s').put('big', v);
    await synced(a, b);
    expect((await b.space('s').get('big'))!.value).toEqual(v);
    const changes = sent.filter((f) => (f[0] === MsgType.Changes || f[0] === MsgType.Live) && f.length > 1000);
    expect(changes).toHaveLength(1);
    expect(changes[0]!.length).toBeGreaterThanOrEqual(100_000);
    expect(changes[0]!.length).toBeLessThan(100_000 + 100);
    await a.close();
    await b.close();
  });

  it('a 100 KB value costs about 100 KB in the file log, and reads back exact after a reopen', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'concord-bin-'));
    const size = async () => {
      let n = 0;
      for (const f of await readdir(dir)) n += (await stat(join(dir, f))).size;
      return n;
    };
    try {
      const r = await openReplica({ storage: fileStorage(dir) });
      await r.space('s').put('small', 1);
      const before = await size();
      const v = bytes(100_000);
      await r.space('s').put('big', v);
      const grew = (await size()) - before;
      expect(grew).toBeGreaterThanOrEqual(100_000);
      expect(grew).toBeLessThan(100_000 + 400);
      await r.close();
      const again = await openReplica({ storage: fileStorage(dir) });
      expect((await again.space('s').get('big'))!.value).toEqual(v);
      await again.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
