/**
 * The few file-system operations the adapter uses, behind a small interface: the default is node:fs,
 * and tests wrap it to inject faults (ENOSPC, EACCES, failing fsync) without touching the real disk.
 * Every write path goes through here, so a fault injected here is a fault the adapter must survive.
 */
import * as fs from 'node:fs/promises';
import { constants } from 'node:fs';
import { errnoCode } from './io-errors.js';

export interface IoFile {
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
  /**
   * Optional: writes `buffers` one after the other at `position` in one call (pwritev); may write fewer bytes than
   * they hold, like `write`. Without it, writeAll joins them and writes the one buffer.
   */
  writev?(buffers: readonly Uint8Array[], position: number): Promise<{ bytesWritten: number }>;
  /** fdatasync: the data and the metadata needed to read it back (the size) are on disk. */
  datasync(): Promise<void>;
  truncate(length: number): Promise<void>;
  size(): Promise<number>;
  close(): Promise<void>;
}

export interface Io {
  /** flags as node:fs: 'r', 'r+', 'w', 'wx' / 'wx+' (create, fail if present; + also reads). */
  open(path: string, flags: string): Promise<IoFile>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string): Promise<void>;
  /** fsync of a directory, so a create, rename or unlink in it is durable. */
  syncDir(path: string): Promise<void>;
  /**
   * Optional: names a file itself, not its path, in a way a copy of it does not share (node:fs: its inode, birth time
   * and change time; a rename keeps them, a copy made anew has others). For a file nothing writes again, all three
   * stay put: where the platform has no birth time, Node reports the change time for it, still stable for such a file.
   */
  identify?(path: string): Promise<string>;
}

class NodeFile implements IoFile {
  constructor(private readonly fh: fs.FileHandle) {}
  read(buffer: Uint8Array, offset: number, length: number, position: number) {
    return this.fh.read(buffer, offset, length, position);
  }
  write(buffer: Uint8Array, offset: number, length: number, position: number) {
    return this.fh.write(buffer, offset, length, position);
  }
  writev(buffers: readonly Uint8Array[], position: number) {
    return this.fh.writev(buffers as Uint8Array[], position);
  }
  datasync() {
    return this.fh.datasync();
  }
  truncate(length: number) {
    return this.fh.truncate(length);
  }
  async size() {
    return (await this.fh.stat()).size;
  }
  close() {
    return this.fh.close();
  }
}

export const nodeIo: Io = {
  async open(path, flags) {
    return new NodeFile(await fs.open(path, flags, 0o644));
  },
  readFile: (path) => fs.readFile(path),
  rename: (from, to) => fs.rename(from, to),
  unlink: (path) => fs.unlink(path),
  readdir: (path) => fs.readdir(path),
  async mkdir(path) {
    await fs.mkdir(path, { recursive: true });
  },
  async syncDir(path) {
    const fh = await fs.open(path, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await fh.sync();
    } finally {
      await fh.close();
    }
  },
  async identify(path) {
    const s = await fs.stat(path, { bigint: true });
    return `${s.ino}:${s.birthtimeNs}:${s.ctimeNs}`;
  },
};

/** Reads exactly `length` bytes at `position` (fewer only at end of file); returns the bytes read. */
export async function readFully(file: IoFile, buffer: Uint8Array, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await file.read(buffer, done, length - done, position + done);
    if (bytesRead === 0) break;
    done += bytesRead;
  }
  return done;
}

export async function writeFully(file: IoFile, buffer: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buffer.length) {
    const { bytesWritten } = await file.write(buffer, done, buffer.length - done, position + done);
    done += bytesWritten;
  }
}

/**
 * Writes `parts`, in order, at `position`: gathered into one call where the file can (IoFile.writev; what a short write
 * left is written again), else joined and written as one buffer.
 */
export async function writeAll(file: IoFile, parts: readonly Uint8Array[], position: number): Promise<void> {
  if (!file.writev) return writeFully(file, parts.length === 1 ? parts[0]! : Buffer.concat(parts), position);
  let rest = parts;
  while (rest.length > 0) {
    const { bytesWritten } = await file.writev(rest, position);
    if (!(bytesWritten > 0)) throw new Error(`a gathered write wrote ${bytesWritten} bytes`);
    position += bytesWritten;
    rest = after(rest, bytesWritten);
  }
}

/** What of `parts` follows their first `n` bytes. */
function after(parts: readonly Uint8Array[], n: number): readonly Uint8Array[] {
  let i = 0;
  while (i < parts.length && n >= parts[i]!.length) n -= parts[i++]!.length;
  if (i === parts.length) return [];
  const rest = parts.slice(i);
  if (n > 0) rest[0] = rest[0]!.subarray(n);
  return rest;
}

/** Creates `path` holding `bytes`, durably (data synced; the directory entry is the caller's to sync); false if it exists. */
export async function createExclusive(io: Io, path: string, bytes: Uint8Array): Promise<boolean> {
  let file;
  try {
    file = await io.open(path, 'wx');
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false;
    throw e;
  }
  try {
    await writeFully(file, bytes, 0);
    await file.datasync();
  } finally {
    await file.close();
  }
  return true;
}
