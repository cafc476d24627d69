/**
 * A file system in memory that loses power: the `Io` the file storage runs on, with what a machine crash keeps and
 * what it loses modelled the way POSIX promises it (and ext4 and XFS deliver it):
 * - a file's bytes are durable as of its last `datasync`; bytes appended since may survive in part (a torn tail,
 *   any prefix of them), bytes rewritten in place or cut by `truncate` since are lost;
 * - a directory's entries (made, renamed, removed) are durable as of its last `syncDir`; of the changes since, a
 *   crash keeps any subset (POSIX promises no order): a new file may be gone, a rename undone (it is atomic: whole
 *   or not at all), a removal undone, each independently of the others.
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
  /** Whether everything since the last datasync only appended to it (a crash may then keep a prefix of the tail). */
  appendOnly: boolean;
  readonly born: number;
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

  constructor(private readonly tag: string) {}

  /** The power fails just before the `n`th operation from now (that operation and every later one of this incarnation fail). */
  arm(n: number, rng: () => number): void {
    this.fuse = n;
    this.fuseRng = rng;
  }

  disarm(): void {
    this.fuse = undefined;
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
      const base = node.durable ?? Buffer.alloc(0);
      let data = base;
      // Appends since the last datasync: any prefix of them may have reached the disk.
      if (node.appendOnly && node.data.length > base.length && node.data.subarray(0, base.length).equals(base)) {
        data = node.data.subarray(0, base.length + Math.floor(rng() * (node.data.length - base.length + 1)));
      }
      kept.set(ino, { data: Buffer.from(data), durable: Buffer.from(data), appendOnly: true, born: node.born });
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
        const end = position + length;
        if (position < node.data.length) node.appendOnly = false;
        if (end > node.data.length) {
          const grown = Buffer.alloc(end);
          node.data.copy(grown);
          node.data = grown;
        }
        Buffer.from(buffer.buffer, buffer.byteOffset + offset, length).copy(node.data, position);
        return { bytesWritten: length };
      };
      return {
        read: async (buffer, offset, length, position) => {
          alive();
          const n = Math.max(0, Math.min(length, node.data.length - position));
          node.data.copy(buffer, offset, position, position + n);
          return { bytesRead: n };
        },
        // A gathered write is the same bytes written at once (what a crash keeps of them: a prefix, as of any append).
        writev: async (buffers, position) => {
          const all = Buffer.concat(buffers);
          return write(all, 0, all.length, position);
        },
        write,
        datasync: async () => {
          await turn();
          alive();
          node.durable = Buffer.from(node.data);
          node.appendOnly = true;
        },
        truncate: async (length) => {
          alive();
          if (length < node.data.length) node.appendOnly = false;
          const next = Buffer.alloc(length);
          node.data.copy(next, 0, 0, Math.min(length, node.data.length));
          node.data = next;
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
          if (node.data.length > 0) node.appendOnly = false;
          node.data = Buffer.alloc(0);
          return file(node);
        }
        const ino = this.nextIno++;
        const node: Inode = { data: Buffer.alloc(0), durable: undefined, appendOnly: true, born: ino };
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
