// Shared by the fs tests: temporary directories, a fault-injecting Io, and a private build of the package
// for child processes (so they never depend on a stale dist/ and never race another test's build).
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileStorage, nodeIo, type FileStorageOptions, type Io, type IoFile } from '../../adapters/fs/index.js';
import { afterEach, expect } from 'vitest';
import type { KeyRecord, StorageAdapter, StorageTx } from '../../lib/storage.js';
import { rec } from '../storage/contract.js';

export const repoRoot = resolve(import.meta.dirname, '../..');

export async function tempDir(tag: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `concord-fs-${tag}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Temporary directories removed after each test of the file that calls this at its top level: `dir(tag)` makes one. */
export function tempDirsPerTest(): (tag: string) => Promise<string> {
  let cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const c of cleanups) await c();
    cleanups = [];
  });
  return async (tag) => {
    const t = await tempDir(tag);
    cleanups.push(t.cleanup);
    return t.dir;
  };
}

export async function segmentFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^log-\d+\.log$/.test(n)).sort().map((n) => join(dir, n));
}

export async function snapshotFiles(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((n) => /^snap-\d+\.snap$/.test(n)).sort().map((n) => join(dir, n));
}

export function errnoError(code: string, syscall: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(`${code}: injected, ${syscall}`);
  e.code = code;
  e.syscall = syscall;
  return e;
}

/** Faults to inject; each hook returns an error to throw, or undefined to let the call through. */
export interface Faults {
  open?: (path: string, flags: string) => Error | undefined;
  write?: (path: string, length: number) => Error | undefined;
  datasync?: (path: string) => Error | undefined;
  mkdir?: (path: string) => Error | undefined;
  /** A directory's fsync (Io.syncDir). */
  syncDir?: (path: string) => Error | undefined;
  /** Awaited before each datasync runs (to hold fsyncs back). */
  beforeSync?: (path: string) => Promise<void>;
  syncs?: number;
  /** Counted: positioned reads. */
  reads?: number;
  /** Counted: gathered writes (IoFile.writev). */
  writevs?: number;
}

/** `base` (node:fs unless given) with `faults` injected. */
export function faultyIo(faults: Faults, base: Io = nodeIo): Io {
  const wrap = (path: string, f: IoFile): IoFile => ({
    read: (b, o, l, p) => {
      faults.reads = (faults.reads ?? 0) + 1;
      return f.read(b, o, l, p);
    },
    async write(b, o, l, p) {
      const e = faults.write?.(path, l);
      if (e) {
        // a partial write first, as a full disk would leave it
        if (l > 1) await f.write(b, o, Math.floor(l / 2), p);
        throw e;
      }
      return f.write(b, o, l, p);
    },
    async writev(bs, p) {
      const l = bs.reduce((n, b) => n + b.length, 0);
      faults.writevs = (faults.writevs ?? 0) + 1;
      const e = faults.write?.(path, l);
      if (e) {
        // a partial write first, as a full disk would leave it
        if (l > 1) await f.write(Buffer.concat(bs), 0, Math.floor(l / 2), p);
        throw e;
      }
      return f.writev!(bs, p);
    },
    async datasync() {
      await faults.beforeSync?.(path);
      faults.syncs = (faults.syncs ?? 0) + 1;
      const e = faults.datasync?.(path);
      if (e) throw e;
      return f.datasync();
    },
    truncate: (n) => f.truncate(n),
    size: () => f.size(),
    close: () => f.close(),
  });
  return {
    ...base,
    async open(path, flags) {
      const e = faults.open?.(path, flags);
      if (e) throw e;
      return wrap(path, await base.open(path, flags));
    },
    async mkdir(path) {
      const e = faults.mkdir?.(path);
      if (e) throw e;
      return base.mkdir(path);
    },
    async syncDir(path) {
      const e = faults.syncDir?.(path);
      if (e) throw e;
      return base.syncDir(path);
    },
  };
}

/**
 * Compiles lib/ and adapters/ into a private directory under node_modules/.cache (so bare imports resolve)
 * and returns the paths child processes import.
 */
export function privateBuild(tag: string): { lib: string; fs: string; dir: string } {
  const out = join(repoRoot, 'node_modules', '.cache', `concord-fs-test-${tag}-${process.pid}`);
  const lib = join(out, 'lib', 'index.js');
  const fs = join(out, 'adapters', 'fs', 'index.js');
  if (!existsSync(fs)) {
    mkdirSync(out, { recursive: true });
    execFileSync(process.execPath, [join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(repoRoot, 'tsconfig.build.json'), '--outDir', out, '--sourceMap', 'false', '--declaration', 'false'], { stdio: 'pipe' });
  }
  return { lib, fs, dir: out };
}

/** The library's seeded PRNG (mulberry32), so a failing run replays from its seed. */
import { prng } from '../../lib/check-merge.js';
export { prng };

/**
 * File storages on fault-injecting Io in temporary directories, each closed and removed by `cleanup` (call it in
 * afterEach). `defaults` go under each setup's options.
 */
export function faultyStorages(tag: string, defaults: FileStorageOptions = {}) {
  let cleanups: Array<() => Promise<void>> = [];
  return {
    async setup(faults: Faults, options: FileStorageOptions = {}): Promise<{ dir: string; s: StorageAdapter }> {
      const { dir, cleanup } = await tempDir(tag);
      const s = fileStorage(dir, { ...defaults, ...options, io: faultyIo(faults) });
      cleanups.push(async () => {
        await s.close().catch(() => {});
        await cleanup();
      });
      await s.open();
      return { dir, s };
    },
    /** Something else to undo at cleanup (a directory a test made itself; `first`: before the rest, a close). */
    track(undo: () => Promise<void>, { first = false } = {}): void {
      if (first) cleanups.unshift(undo);
      else cleanups.push(undo);
    },
    async cleanup(): Promise<void> {
      for (const c of cleanups) await c();
      cleanups = [];
    },
  };
}

export const isLog = (path: string) => /log-\d+\.log$/.test(path);

/** A transaction putting `key` (record `rec(seq)`) and moving the log's seq meta to `seq`. */
export const putAt = (key: string, seq: number) => (tx: StorageTx) => {
  tx.put('sp', key, rec(seq));
  tx.setMeta('seq', seq);
  return seq;
};

/**
 * `io` with the files of log segments wrapped: `wrap` answers the calls it replaces (given the file as opened); the
 * others go to the file as they are.
 */
export function wrapLogs(io: Io, wrap: (f: IoFile) => Partial<IoFile>): Io {
  return {
    ...io,
    async open(path, flags) {
      const f = await io.open(path, flags);
      if (!isLog(path)) return f;
      const file: IoFile = {
        read: (b, o, l, p) => f.read(b, o, l, p),
        write: (b, o, l, p) => f.write(b, o, l, p),
        datasync: () => f.datasync(),
        truncate: (n) => f.truncate(n),
        size: () => f.size(),
        close: () => f.close(),
      };
      if (f.writev) file.writev = (bs, p) => f.writev!(bs, p);
      return Object.assign(file, wrap(f));
    },
  };
}

/** Settles as `p` does, or answers 'never' once `ms` passed (a bound on a hang, not a timing). */
export function within<T>(p: Promise<T>, ms: number): Promise<T | 'never'> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const never = new Promise<'never'>((res) => (timer = setTimeout(() => res('never'), ms)));
  return Promise.race([p, never]).finally(() => clearTimeout(timer));
}

/** How `p` settled within a bound (5 s): 'resolved', 'rejected', or 'never' (a hang, not a timing). */
export function settled(p: Promise<unknown>): Promise<'resolved' | 'rejected' | 'never'> {
  return within(
    p.then(
      () => 'resolved' as const,
      () => 'rejected' as const,
    ),
    5000,
  );
}

/** Holds the fsyncs of the files `which` picks, from now on: `entered` once one waits, `release` lets them go. */
export function holdSyncs(faults: Faults, which: (path: string) => boolean): { entered: Promise<void>; release: () => void } {
  let release!: () => void;
  let enter!: () => void;
  const hold = new Promise<void>((r) => (release = r));
  const entered = new Promise<void>((r) => (enter = r));
  faults.beforeSync = async (path) => {
    if (!which(path)) return;
    enter();
    await hold;
  };
  return { entered, release };
}

export type Row = [space: string, key: string, rec: KeyRecord];

/** Every record, its index row, the log order and the metadata, as `rows` says they must be. */
export async function expectHolds(s: StorageAdapter, rows: Row[], meta: Record<string, unknown>): Promise<void> {
  for (const [space, key, rec] of rows) expect(await s.get(space, key), `${space}/${key}`).toStrictEqual(rec);
  for (const space of new Set(rows.map(([sp]) => sp))) {
    const mine = rows.filter(([sp]) => sp === space).sort((a, b) => a[2].seq - b[2].seq);
    expect((await s.index(space)).sort((a, b) => a.seq - b.seq)).toEqual(mine.map(([, key, rec]) => ({ key, seq: rec.seq, h: rec.h })));
    const log = await s.readLog(space, 0, 1000);
    expect(log.map(([k, r]) => [k, r])).toStrictEqual(mine.map(([, k, r]) => [k, r]));
  }
  for (const [k, v] of Object.entries(meta)) expect(await s.getMeta(k)).toStrictEqual(v);
}
