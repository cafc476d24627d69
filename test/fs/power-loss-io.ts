/**
 * A file system in memory that loses power: the `Io` the file storage runs on, with what a machine crash keeps and
 * what it loses modelled the way POSIX leaves it open (and ext4, XFS and a disk's volatile cache may deliver it):
 * - a file's bytes and size are durable as of its last `datasync` (fdatasync also makes the size durable: it is
 *   needed to read the data back). Of what was done to it since — writes, appends, `truncate`s, the cut of an open
 *   with 'w' — nothing is promised, in any order: the size found is the size at any moment since (an unsynced
 *   truncate may be undone, an unsynced append may be gone while the size still covers it), and each page holds
 *   its bytes as of any moment since, independently of its neighbours (writeback and the disk's cache reorder pages);
 *   a page past what that moment's file held reads as zeros. Or, the other choice a crash may make: each write and
 *   truncate since the last datasync reached the disk whole or not at all, independently of the others, applied in
 *   order. Which of these, and the page size (512 or 4096), is the crash's seeded choice;
 * - a directory's entries (made, renamed, removed) are durable as of its last `syncDir`; of the changes since, a
 *   crash keeps any subset (POSIX promises no order): a new file may be gone, a rename undone (it is atomic: whole
 *   or not at all), a removal undone, each independently of the others. A file whose entry a crash keeps keeps its
 *   data as above, also when its removal is undone.
 * Not modelled: a sector torn inside itself (disks write a 512-byte sector whole), bytes of another file appearing
 * (ext4 data=ordered and XFS never expose freed blocks), damage to bytes that were synced.
 * `crash(rng)` does that, or `arm(n)` has it happen at the n-th file operation from then; every handle and path of the incarnation before then fails with EIO, as a dead process's
 * would. Each incarnation names the same files under its own root (`root()`), so a storage opened after the crash
 * is a new holder of the directory's lock, as a restarted process is.
 */
import type { Io, IoFile } from '../../adapters/fs/io.js';
import { errnoError } from './helpers.js';

interface Inode {
  data: Buffer;
  /** The bytes as of the last datasync; undefined: never synced. */
  durable: Buffer | undefined;
  /** What was done to it since the last datasync, in order (a crash keeps any of it: see `afterCrash`). */
  since: Change[];
  readonly born: number;
}

/** A write (its bytes) at `pos`, or a truncate to `length` (also the cut of an open with 'w'). */
type Change = { pos: number; bytes: Buffer } | { length: number };

/** `data` with `c` done to it (a new buffer where its length changes; zeros where a write leaves a hole). */
function applyChange(data: Buffer, c: Change): Buffer {
  const length = 'length' in c ? c.length : Math.max(data.length, c.pos + c.bytes.length);
  let out = data;
  if (length !== data.length) {
    out = Buffer.alloc(length);
    data.copy(out, 0, 0, Math.min(length, data.length));
  }
  if ('bytes' in c) c.bytes.copy(out, c.pos);
  return out;
}

/**
 * What a crash leaves of a file (the header's model): with no change since its last datasync, its synced bytes;
 * else, a seeded choice between whole changes (each kept or not, in order) and pages of any moment under a size of
 * any moment (or, where that moment grew the file, any length in the growth: a torn tail).
 */
function afterCrash(node: Inode, rng: () => number): Buffer {
  const base = node.durable ?? Buffer.alloc(0);
  const since = node.since;
  if (since.length === 0) return Buffer.from(base);
  if (rng() < 0.3) {
    let img: Buffer = Buffer.from(base);
    for (const c of since) if (rng() < 0.5) img = applyChange(img, c);
    return img;
  }
  const page = rng() < 0.5 ? 512 : 4096;
  const lengths = [base.length];
  for (const c of since) lengths.push('length' in c ? c.length : Math.max(lengths[lengths.length - 1]!, c.pos + c.bytes.length));
  const k = Math.floor(rng() * lengths.length);
  let size = lengths[k]!;
  if (k > 0 && size > lengths[k - 1]! && rng() < 0.5) size = lengths[k - 1]! + Math.floor(rng() * (size - lengths[k - 1]! + 1));
  // Per page, the moment whose bytes it holds: 0 the last datasync, j after the j-th change.
  const byMoment: number[][] = Array.from({ length: since.length + 1 }, () => []);
  for (let p = 0; p * page < size; p++) byMoment[Math.floor(rng() * byMoment.length)]!.push(p);
  const out = Buffer.alloc(size);
  let img: Buffer = Buffer.from(base);
  for (let j = 0; j <= since.length; j++) {
    if (j > 0) img = applyChange(img, since[j - 1]!);
    for (const p of byMoment[j]!) if (p * page < img.length) img.copy(out, p * page, p * page, Math.min((p + 1) * page, size, img.length));
  }
  return out;
}

type EntryOp = { dir: string; path: string } & ({ kind: 'set'; ino: number } | { kind: 'rename'; from: string; ino: number } | { kind: 'delete' });

function applyOp(names: Map<string, number>, op: EntryOp): void {
  if (op.kind === 'delete') names.delete(op.path);
  else {
    if (op.kind === 'rename') names.delete(op.from);
    names.set(op.path, op.ino);
  }
}

/** A macrotask's turn: an fsync takes time, and other work runs meanwhile. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

export class PowerLossFs {
  private inodes = new Map<number, Inode>();
  /** Entries as the running system sees them, and as the disk holds them. */
  private names = new Map<string, number>();
  private durableNames = new Map<string, number>();
  /** Entry changes not yet made durable by their directory's fsync, in order: a crash keeps any subset of them. */
  private pending: EntryOp[] = [];
  private nextIno = 1;
  private generation = 0;
  crashes = 0;
  /** Operations left before the power fails by itself (`arm`); undefined: not armed. */
  private fuse: number | undefined;
  private fuseRng: (() => number) | undefined;
  /** Operations done so far (all incarnations). */
  ops = 0;
  /** Called before each file operation of the live incarnation takes effect (to `fork` the disk at every one). */
  onOp: (() => void) | undefined;

  constructor(private readonly tag: string) {}

  /** The power fails just before the `n`th operation from now (that operation and every later one of this incarnation fail). */
  arm(n: number, rng: () => number): void {
    this.fuse = n;
    this.fuseRng = rng;
  }

  disarm(): void {
    this.fuse = undefined;
  }

  /**
   * A copy of this file system as it is now, what is durable and what is not, under `tag`: one moment crashed in many
   * ways (each copy's `crash` with its own seed).
   */
  fork(tag: string): PowerLossFs {
    const f = new PowerLossFs(tag);
    for (const [ino, n] of this.inodes) f.inodes.set(ino, { data: Buffer.from(n.data), durable: n.durable && Buffer.from(n.durable), since: [...n.since], born: n.born });
    f.names = new Map(this.names);
    f.durableNames = new Map(this.durableNames);
    f.pending = [...this.pending];
    f.nextIno = this.nextIno;
    return f;
  }

  /** Where this incarnation sees the files: a new root after each crash. */
  root(): string {
    return `/power-loss-${this.tag}-${this.generation}`;
  }

  /** The machine loses power now; what the disk holds is what the next incarnation finds. */
  crash(rng: () => number): void {
    this.generation++;
    this.crashes++;
    // POSIX makes an entry change durable at its directory's fsync, and promises nothing before: any of them may
    // have reached the disk (a rename whole or not at all).
    for (const op of this.pending) if (rng() < 0.5) applyOp(this.durableNames, op);
    this.pending = [];
    const kept = new Map<number, Inode>();
    for (const ino of new Set(this.durableNames.values())) {
      const node = this.inodes.get(ino)!;
      const data = afterCrash(node, rng);
      kept.set(ino, { data, durable: Buffer.from(data), since: [], born: node.born });
    }
    this.inodes = kept;
    this.names = new Map(this.durableNames);
  }

  private change(op: EntryOp): void {
    applyOp(this.names, op);
    this.pending.push(op);
  }

  /** The Io of the current incarnation. */
  io(): Io {
    const gen = this.generation;
    const prefix = this.root();
    const alive = (path?: string): string => {
      if (this.generation === gen && this.fuse !== undefined && --this.fuse <= 0) {
        this.fuse = undefined;
        this.crash(this.fuseRng!);
      }
      if (this.generation !== gen) throw errnoError('EIO', 'io');
      this.onOp?.();
      this.ops++;
      if (path === undefined) return '';
      if (!path.startsWith(prefix)) throw new Error(`power-loss io: ${path} is outside ${prefix}`);
      return path.slice(prefix.length);
    };
    const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/'));
    const inode = (p: string): Inode => {
      const ino = this.names.get(p);
      if (ino === undefined) throw errnoError('ENOENT', 'open');
      return this.inodes.get(ino)!;
    };
    const file = (node: Inode): IoFile => {
      const write = async (buffer: Uint8Array, offset: number, length: number, position: number) => {
        alive();
        const change = { pos: position, bytes: Buffer.from(Buffer.from(buffer.buffer, buffer.byteOffset + offset, length)) };
        node.since.push(change);
        node.data = applyChange(node.data, change);
        return { bytesWritten: length };
      };
      return {
        read: async (buffer, offset, length, position) => {
          alive();
          const n = Math.max(0, Math.min(length, node.data.length - position));
          node.data.copy(buffer, offset, position, position + n);
          return { bytesRead: n };
        },
        // A gathered write is the same bytes written at once (what a crash keeps of them: as of any write).
        writev: async (buffers, position) => {
          const all = Buffer.concat(buffers);
          return write(all, 0, all.length, position);
        },
        write,
        datasync: async () => {
          await turn();
          alive();
          node.durable = Buffer.from(node.data);
          node.since = [];
        },
        truncate: async (length) => {
          alive();
          node.since.push({ length });
          node.data = applyChange(node.data, { length });
        },
        size: async () => (alive(), node.data.length),
        close: async () => {},
      };
    };
    return {
      open: async (path, flags) => {
        const p = alive(path);
        if (flags.startsWith('r')) return file(inode(p));
        const at = this.names.get(p);
        if (at !== undefined && flags.includes('x')) throw errnoError('EEXIST', 'open');
        if (at !== undefined) {
          const node = this.inodes.get(at)!;
          node.since.push({ length: 0 });
          node.data = Buffer.alloc(0);
          return file(node);
        }
        const ino = this.nextIno++;
        const node: Inode = { data: Buffer.alloc(0), durable: undefined, since: [], born: ino };
        this.inodes.set(ino, node);
        this.change({ dir: dirOf(p), kind: 'set', path: p, ino });
        return file(node);
      },
      readFile: async (path) => Buffer.from(inode(alive(path)).data),
      rename: async (from, to) => {
        const f = alive(from);
        const t = alive(to);
        const ino = this.names.get(f);
        if (ino === undefined) throw errnoError('ENOENT', 'rename');
        if (dirOf(f) !== dirOf(t)) throw new Error('power-loss io: a rename across directories is not modelled');
        this.change({ dir: dirOf(f), kind: 'rename', path: t, from: f, ino });
      },
      unlink: async (path) => {
        const p = alive(path);
        if (!this.names.has(p)) throw errnoError('ENOENT', 'unlink');
        this.change({ dir: dirOf(p), kind: 'delete', path: p });
      },
      readdir: async (path) => {
        const d = alive(path);
        return [...this.names.keys()].filter((p) => dirOf(p) === d).map((p) => p.slice(d.length + 1));
      },
      // Directories are taken as made and durable at once: the model is about the files in them.
      mkdir: async (path) => void alive(path),
      syncDir: async (path) => {
        await turn();
        const d = alive(path);
        for (const op of this.pending) if (op.dir === d) applyOp(this.durableNames, op);
        this.pending = this.pending.filter((op) => op.dir !== d);
      },
      identify: async (path) => {
        const node = inode(alive(path));
        return `${node.born}:${node.born}`;
      },
    };
  }
}
