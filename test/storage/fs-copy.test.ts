/**
 * A file-storage directory restored from a copy (issue 10's open case, restored without `restored: true`). The copy
 * holds less than its lost history sent out, and its replica cannot learn that from its own data: it would mint the
 * lost counters again, and the first of its writes to reach a peer holding a lost write of the same key would drop
 * that write there (restore-escaped.test.ts, "the limit"). A copied directory is a new directory on the disk,
 * though, or at least holds new files: the storage tells where it lives (`location`), the replica keeps that, and
 * an open that finds itself somewhere else opens under a new replicaId, as `restored: true` does.
 */
import { cp, mkdtemp, readdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fileStorage } from '../../adapters/fs/index.js';
import { nodeIo, type Io } from '../../adapters/fs/io.js';
import { memoryStorage, openReplica, pairTransports, type Replica } from '../../lib/index.js';
import { synced, until } from '../sync/support.js';

const dirs: string[] = [];
afterAll(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'concord-copy-'));
  dirs.push(d);
  return d;
}

const siblings = async (r: Replica, key: string) => (await r.space('s').get(key))?.siblings.slice().sort();

describe('a file-storage directory restored from a copy', () => {
  it('opens under a new replicaId; reopening the same directory, or one renamed, keeps it', async () => {
    const root = await tempDir();
    const dir = join(root, 'data');
    const first = await openReplica({ storage: fileStorage(dir) });
    const id = first.replicaId;
    await first.space('s').put('k', 1);
    await first.close();

    const again = await openReplica({ storage: fileStorage(dir) });
    expect(again.replicaId).toBe(id);
    await again.close();

    const moved = join(root, 'moved');
    await rename(dir, moved); // the same directory under another name: not a copy
    const renamed = await openReplica({ storage: fileStorage(moved) });
    expect(renamed.replicaId).toBe(id);
    await renamed.close();

    const copy = join(root, 'copy');
    await cp(moved, copy, { recursive: true });
    const copied = await openReplica({ storage: fileStorage(copy) });
    expect(copied.replicaId).not.toBe(id);
    expect((await copied.space('s').get('k'))?.value).toBe(1); // it keeps what it holds
    await copied.close();

    // Once seen where it is, the copy keeps its new id; the original keeps its own.
    const copiedAgain = await openReplica({ storage: fileStorage(copy) });
    expect(copiedAgain.replicaId).toBe(copied.replicaId);
    await copiedAgain.close();
    const original = await openReplica({ storage: fileStorage(moved) });
    expect(original.replicaId).toBe(id);
    await original.close();
  });

  it('fails an open whose place cannot be read, closed, and the next open goes on under the same id', async () => {
    const dir = join(await tempDir(), 'data');
    const first = await openReplica({ storage: fileStorage(dir) });
    const id = first.replicaId;
    await first.close();
    const failing = { ...nodeIo, identify: async () => Promise.reject(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' })) };
    await expect(openReplica({ storage: fileStorage(dir, { io: failing }) })).rejects.toMatchObject({ code: 'STORAGE_ERROR' });
    const again = await openReplica({ storage: fileStorage(dir) }); // not LOCKED: the failed open let the directory go
    expect(again.replicaId).toBe(id);
    await again.close();
  });

  it('tells a restore into the directory it kept, emptied first', async () => {
    const root = await tempDir();
    const dir = join(root, 'data');
    const backup = join(root, 'backup');
    const first = await openReplica({ storage: fileStorage(dir) });
    const id = first.replicaId;
    await first.space('s').put('k', 1);
    await first.close();
    await cp(dir, backup, { recursive: true });
    for (const name of await readdir(dir)) await rm(join(dir, name), { recursive: true });
    for (const name of await readdir(backup)) await cp(join(backup, name), join(dir, name), { recursive: true });
    const restored = await openReplica({ storage: fileStorage(dir) });
    expect(restored.replicaId).not.toBe(id);
    expect((await restored.space('s').get('k'))?.value).toBe(1);
    await restored.close();
  });

  it('loses no write its lost history sent out, its peer restored with it (restore-escaped\'s limit)', async () => {
    // a — hub — d, a and hub each on a directory of their own; copies of both are taken; a writes x and k1, which
    // reach d through hub; d goes away; a and hub are put back from their copies; the restored a writes k1 again
    // and syncs with hub, and only then d comes back to hub with the lost writes.
    const root = await tempDir();
    const dirA = join(root, 'a');
    const dirHub = join(root, 'hub');
    const d = await openReplica({ storage: memoryStorage() });
    d.space('s');
    const open = async (dir: string) => {
      const r = await openReplica({ storage: fileStorage(dir) });
      r.space('s');
      return r;
    };
    const link = async (x: Replica, y: Replica) => {
      const [tx, ty] = pairTransports();
      const lx = x.connect(tx);
      const ly = y.connect(ty);
      await synced(x, y);
      return () => (lx.close(), ly.close());
    };

    let a = await open(dirA);
    let hub = await open(dirHub);
    await a.space('s').put('k0', 'before the copies');
    const links = [await link(a, hub), await link(hub, d)];
    await until(async () => (await d.space('s').get('k0')) !== undefined, 'k0 reaches d');
    links.forEach((u) => u());
    await Promise.all([a.close(), hub.close()]);
    await cp(dirA, `${dirA}.copy`, { recursive: true });
    await cp(dirHub, `${dirHub}.copy`, { recursive: true });

    a = await open(dirA);
    hub = await open(dirHub);
    await a.space('s').put('x', 'lost too');
    await a.space('s').put('k1', 'lost with the disks');
    const again = [await link(a, hub), await link(hub, d)];
    await until(async () => (await siblings(d, 'k1'))?.[0] === 'lost with the disks', 'd holds the lost write');
    again.forEach((u) => u());
    await Promise.all([a.close(), hub.close()]);
    for (const dir of [dirA, dirHub]) {
      await rm(dir, { recursive: true, force: true });
      await cp(`${dir}.copy`, dir, { recursive: true });
    }

    a = await open(dirA);
    hub = await open(dirHub);
    await a.space('s').put('y0', 'after the restore');
    await a.space('s').put('y1', 'after the restore');
    await a.space('s').put('k1', 'after the restore');
    const unlinkA = await link(a, hub);
    await until(async () => (await siblings(hub, 'k1'))?.[0] === 'after the restore', 'hub holds the new write');
    const unlinkD = await link(hub, d);
    await until(async () => {
      const all = await Promise.all([a, hub, d].map((r) => siblings(r, 'k1')));
      return all.every((s) => JSON.stringify(s) === JSON.stringify(all[0]));
    }, 'k1 the same everywhere', 5_000);
    for (const r of [a, hub, d]) {
      expect(await siblings(r, 'k1')).toEqual(['after the restore', 'lost with the disks']);
      expect((await r.space('s').get('x'))?.value).toBe('lost too');
      expect((await r.space('s').get('y0'))?.value).toBe('after the restore');
    }
    unlinkA();
    unlinkD();
    await Promise.all([a.close(), hub.close(), d.close()]);
  });

  it('keeps its id through a machine crash after a process that made PLACE died before making its entry durable', async () => {
    // A model of the disk: an entry made in a directory is lost by a machine crash until that directory is fsynced.
    const notDurable = new Set<string>();
    const dirOf = (path: string) => path.slice(0, path.lastIndexOf('/'));
    let syncing = true; // false: the process died right after making its files (no directory fsync happens)
    const io: Io = {
      ...nodeIo,
      async open(path, flags) {
        const file = await nodeIo.open(path, flags);
        if (flags.startsWith('w')) notDurable.add(path);
        return file;
      },
      async rename(from, to) {
        await nodeIo.rename(from, to);
        notDurable.delete(from);
        notDurable.add(to);
      },
      async syncDir(path) {
        if (!syncing) return;
        await nodeIo.syncDir(path);
        for (const p of notDurable) if (dirOf(p) === path) notDurable.delete(p);
      },
    };
    const crash = () => Promise.all([...notDurable].map((p) => nodeIo.unlink(p).catch(() => {}))).then(() => notDurable.clear());
    const dir = join(await tempDir(), 'data');
    await nodeIo.mkdir(dir);
    await nodeIo.syncDir(dirOf(dir));

    // With every fsync done, a crash loses nothing of a closed replica.
    const before = await openReplica({ storage: fileStorage(join(dir, 'x'), { io }) });
    await before.space('s').put('k', 'kept');
    await before.close();
    const lost = [...notDurable];
    await crash();
    const after = await openReplica({ storage: fileStorage(join(dir, 'x'), { io }) });
    expect([after.replicaId, (await after.space('s').get('k'))?.value, lost]).toEqual([before.replicaId, 'kept', []]);
    await after.close();

    syncing = false;
    const first = await openReplica({ storage: fileStorage(dir, { io }) });
    const id = first.replicaId;
    await first.close();
    expect([...notDurable].map((p) => p.slice(dir.length + 1))).toContain('PLACE');
    notDurable.clear(); // what the first process made, other than PLACE, does not matter here: keep it
    notDurable.add(`${dir}/PLACE`); // PLACE's entry is still not durable
    syncing = true;

    const second = await openReplica({ storage: fileStorage(dir, { io }) });
    expect(second.replicaId).toBe(id);
    await second.space('s').put('k', 1);
    await second.close();
    await crash();

    const third = await openReplica({ storage: fileStorage(dir, { io }) });
    expect(third.replicaId).toBe(id);
    await third.close();
  });
});
