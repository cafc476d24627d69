/**
 * The lock file `LOCK` keeps one writer per directory. It holds the owner's pid, host and process start
 * time. Acquiring: create it exclusively; if it exists, its holder is checked — a live process (other than
 * this one) gets ConcordError 'LOCKED' naming the pid; a dead one (pid gone, or the pid now belongs to a
 * process started at another time, or it is this pid but not held by this process: a restarted container)
 * is taken over. Taking over goes through a second exclusive file, so two processes racing for one stale
 * lock cannot both win. Within one process, a directory is held at most once (a second open is LOCKED).
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { ConcordError } from '../../lib/errors.js';
import { errnoCode, ioError } from './io-errors.js';
import { createExclusive, type Io } from './io.js';

interface LockInfo {
  pid: number;
  host: string;
  start?: string;
  token: string;
}

const heldHere = new Set<string>();

/** The start time of a process (field 22 of /proc/<pid>/stat), where Linux exposes it. */
function processStart(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[19];
  } catch {
    return undefined;
  }
}

function isAlive(info: LockInfo): boolean {
  if (info.host !== hostname()) return true; // cannot check another host: assume it lives
  if (info.pid === process.pid) return false; // not held by this process (checked before): a previous incarnation
  try {
    process.kill(info.pid, 0);
  } catch (e) {
    return errnoCode(e) === 'EPERM';
  }
  const start = processStart(info.pid);
  return info.start === undefined || start === undefined || start === info.start;
}

async function readLock(io: Io, path: string): Promise<LockInfo | undefined> {
  try {
    const info = JSON.parse((await io.readFile(path)).toString('utf8')) as Partial<LockInfo>;
    if (typeof info.pid !== 'number' || typeof info.host !== 'string') return undefined;
    return { pid: info.pid, host: info.host, token: String(info.token ?? ''), ...(info.start ? { start: info.start } : {}) };
  } catch (e) {
    if (errnoCode(e) === 'ENOENT') throw e;
    return undefined; // unreadable or half-written: its writer died before finishing
  }
}

const lockBytes = (info: LockInfo) => Buffer.from(JSON.stringify(info));

export interface DirLock {
  release(): Promise<void>;
}

export async function acquireLock(io: Io, dir: string): Promise<DirLock> {
  const key = resolve(dir);
  const path = join(dir, 'LOCK');
  if (heldHere.has(key)) {
    throw new ConcordError('LOCKED', `${dir} is already open in this process (pid ${process.pid}); close it first`);
  }
  const start = processStart(process.pid);
  const me: LockInfo = { pid: process.pid, host: hostname(), token: Math.random().toString(36).slice(2), ...(start ? { start } : {}) };
  try {
    for (let attempt = 0; ; attempt++) {
      if (await createExclusive(io, path, lockBytes(me))) break;
      let holder: LockInfo | undefined;
      try {
        holder = await readLock(io, path);
      } catch {
        continue; // removed meanwhile: try again
      }
      if (holder && isAlive(holder)) {
        throw new ConcordError('LOCKED', `${dir} is locked by process ${holder.pid} on ${holder.host}; close that replica first`);
      }
      if (!holder && attempt < 3) {
        await new Promise((r) => setTimeout(r, 25)); // maybe being written right now: look again
        continue;
      }
      if (attempt >= 6) throw new ConcordError('LOCKED', `${dir}: could not take over the stale lock (another process is racing for it)`);
      await takeOver(io, dir, path, holder, me);
    }
  } catch (e) {
    throw ioError(e, `locking ${dir}`);
  }
  heldHere.add(key);
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(key);
      const now = await readLock(io, path).catch(() => undefined);
      if (now?.token === me.token) await io.unlink(path).catch(() => {});
    },
  };
}

/** Removes a stale lock, under a second exclusive file so that only one process removes it. */
async function takeOver(io: Io, dir: string, path: string, stale: LockInfo | undefined, me: LockInfo): Promise<void> {
  const guard = join(dir, 'LOCK.takeover');
  if (!(await createExclusive(io, guard, lockBytes(me)))) {
    const other = await readLock(io, guard).catch(() => undefined);
    if (other && isAlive(other)) return; // someone else is taking over; the next attempt sees the result
    await io.unlink(guard).catch(() => {});
    return;
  }
  try {
    const again = await readLock(io, path).catch(() => undefined);
    if (again?.token === stale?.token) await io.unlink(path).catch(() => {});
  } finally {
    await io.unlink(guard).catch(() => {});
  }
}
