/**
 * Recovery on open: load the newest snapshot, then replay the log segments numbered from its generation
 * on, in order. Replay reads only frame heads (values stay on disk) and verifies each frame's CRC.
 *
 * Only complete commit groups are applied (a group is acknowledged only once all of it was fsynced).
 * At the first frame that is bad (checksum, magic, or cut short by the end of the file) replay decides:
 * - a torn tail — only frames of the same commit group as the bad spot follow, in the last segment —
 *   is what a crash during a write leaves: nothing in it was acknowledged; the file is truncated where
 *   that group began;
 * - anything else (a valid frame of a later group follows, or a later segment holds data) means bytes
 *   that had been fsynced were damaged: ConcordError 'CORRUPT', and nothing is truncated.
 * Leftovers of interrupted compactions (temporary files, segments and snapshots a newer snapshot covers)
 * are removed.
 */
import { ConcordError } from '../../lib/errors.js';
import { DataFile } from './data-file.js';
import { CHAINED, FOLLOWS, FRAME_HEADER, frameChecks, LAST_IN_GROUP, MAGIC, parseHead, readFrameHeader, type BatchHead, type FrameHeader } from './frame.js';
import { ioError } from './io-errors.js';
import { readFully, type Io, type IoFile } from './io.js';
import { Entry, setMetaOf, type Keyspace } from './keyspace.js';
import type { Segment } from './log-writer.js';
import { loadSnapshot, segName } from './snapshot.js';

export interface Recovered {
  snapshot: DataFile | undefined;
  gen: number;
  /** Segments from `gen` on, oldest first; the last one is appended to. */
  segments: Segment[];
  lastGroup: number;
}


export async function recover(io: Io, dir: string, ks: Keyspace): Promise<Recovered> {
  let names: string[];
  try {
    names = await io.readdir(dir);
  } catch (e) {
    throw ioError(e, `listing ${dir}`);
  }
  const snaps = numbered(names, /^snap-(\d+)\.snap$/);
  const logs = numbered(names, /^log-(\d+)\.log$/);
  for (const n of names) if (/^snap-\d+\.tmp$/.test(n)) await io.unlink(`${dir}/${n}`).catch(() => {});

  const gen = snaps.length ? snaps[snaps.length - 1]! : 0;
  let snapshot: DataFile | undefined;
  if (snaps.length) snapshot = await loadSnapshot(io, `${dir}/snap-${pad(gen)}.snap`, `snap-${pad(gen)}.snap`, ks);
  for (const old of snaps.slice(0, -1)) await io.unlink(`${dir}/snap-${pad(old)}.snap`).catch(() => {});
  for (const old of logs.filter((n) => n < gen)) await io.unlink(`${dir}/${segName(old)}`).catch(() => {});

  const segments: Segment[] = [];
  let lastGroup = 0;
  const live = logs.filter((n) => n >= gen);
  try {
    for (let i = 0; i < live.length; i++) {
      const num = live[i]!;
      const name = segName(num);
      const file = await io.open(`${dir}/${name}`, 'r+');
      const data = new DataFile(name, file);
      segments.push({ num, data, size: 0, frames: 0 });
      const size = await file.size();
      const r = await replay(file, name, size, ks, data, lastGroup);
      lastGroup = r.lastGroup;
      segments[segments.length - 1]!.size = r.end;
      segments[segments.length - 1]!.frames = r.frames;
      if (r.end === size) continue;
      const torn = r.stop < size ? await isTornTail(file, size, r.stop, r.openGroup, r.lastGroup, r.frames > 0 ? r.lastGroup : undefined) : { torn: true };
      const laterData = await anyLaterData(io, dir, live.slice(i + 1));
      if (!torn.torn || laterData) {
        throw new ConcordError(
          'CORRUPT',
          `${dir}/${name} is damaged at offset ${r.stop} and valid data follows` +
            (torn.at === undefined
              ? ' (in a later segment)'
              : torn.skipped !== undefined
                ? ` (a frame of commit group ${torn.skipped + 1} at offset ${torn.at}, written after group ${torn.skipped} of this segment, which does not read)`
                : ` (a frame of a later commit group at offset ${torn.at})`) +
            ': bytes that had been acknowledged as durable were altered. Refusing to open rather than drop them; ' +
            'restore the directory from a backup or move the damaged file away.',
        );
      }
      await file.truncate(r.end);
      await file.datasync();
    }
  } catch (e) {
    await snapshot?.close();
    for (const s of segments) await s.data.close();
    throw e instanceof ConcordError ? e : ioError(e, `recovering ${dir}`);
  }
  return { snapshot, gen, segments, lastGroup };
}

function numbered(names: string[], re: RegExp): number[] {
  const out: number[] = [];
  for (const n of names) {
    const m = re.exec(n);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

const pad = (n: number) => String(n).padStart(10, '0');

/** Reads a file in large windows; `at(pos, len)` returns the bytes or undefined past the end. */
class Reader {
  private start = 0;
  private buf = Buffer.alloc(0);
  constructor(
    private readonly file: IoFile,
    private readonly size: number,
  ) {}
  async at(pos: number, len: number): Promise<Buffer | undefined> {
    if (pos + len > this.size) return undefined;
    if (pos < this.start || pos + len > this.start + this.buf.length) {
      const want = Math.min(this.size - pos, Math.max(len, 4 << 20));
      const buf = Buffer.allocUnsafe(want);
      const n = await readFully(this.file, buf, want, pos);
      this.start = pos;
      this.buf = buf.subarray(0, n);
      if (n < len) return undefined;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

interface Replayed {
  /** End of the last complete commit group: where the segment is cut if anything follows. */
  end: number;
  /** Where reading stopped: the end of the file, or the first bad frame. */
  stop: number;
  /**
   * The group the bytes at `stop` belong to, where it is known: the incomplete group whose frames were read before it,
   * or the group the bad frame's header names when that header reads and names a group past the last complete one.
   * Undefined: its header did not read (torn or damaged) — see `isTornTail`.
   */
  openGroup: number | undefined;
  lastGroup: number;
  frames: number;
}

/**
 * Replays the complete commit groups of a segment. A group's frames are applied only once its last frame
 * (flagged) was read: a group cut short by a crash was never acknowledged, and is dropped whole, so every
 * group kept on disk ends with a flagged frame (which is what tells a torn tail from corruption later).
 */
async function replay(file: IoFile, name: string, size: number, ks: Keyspace, data: DataFile, lastGroup: number): Promise<Replayed> {
  const reader = new Reader(file, size);
  let pos = 0;
  let end = 0;
  let frames = 0;
  let pending: Array<{ head: BatchHead; recOff: number }> = [];
  let pendingGroup = -1;
  // the group named by the header of the frame reading stopped at, when it reads (its checksum is not known to hold)
  let badGroup: number | undefined;
  for (;;) {
    const hb = await reader.at(pos, FRAME_HEADER);
    const h = hb && readFrameHeader(hb, 0);
    if (!hb || !h) break;
    const header = Buffer.from(hb);
    const payload = await reader.at(pos + FRAME_HEADER, h.length);
    if (!payload || !frameChecks(header, 0, h, payload)) {
      badGroup = h.group;
      break;
    }
    if (pending.length && h.group !== pendingGroup) break; // a group never interleaves with another
    pending.push({ head: parseHead(payload.subarray(0, h.headLen), `${name} at offset ${pos}`), recOff: pos + FRAME_HEADER + h.headLen });
    pendingGroup = h.group;
    pos += FRAME_HEADER + h.length;
    if (h.flags & LAST_IN_GROUP) {
      for (const { head, recOff } of pending) apply(head, recOff, ks, data);
      frames += pending.length;
      pending = [];
      lastGroup = h.group;
      end = pos;
    }
  }
  const openGroup = pending.length ? pendingGroup : badGroup !== undefined && badGroup > lastGroup ? badGroup : undefined;
  return { end, stop: pos, openGroup, lastGroup, frames };
}

function apply(head: BatchHead, recOff: number, ks: Keyspace, data: DataFile): void {
  for (const op of head.o) {
    const space = ks.space(op[0]);
    if (op.length === 2) {
      space.set(op[1], undefined);
    } else {
      const e = new Entry(op[2], op[3], op[4], op[5], undefined, data, recOff);
      // A chained record is read with the key's previous one (missing: the key reads as CORRUPT, others are unaffected).
      if (op.length === 7 && op[6] === CHAINED) e.chainTo(space.entry(op[1]));
      space.set(op[1], e);
      recOff += op[4];
    }
  }
  if (head.m) for (const [k, v] of Object.entries(head.m)) setMetaOf(ks.meta, k, v);
}

/**
 * After a bad spot at `from`: is every valid frame that follows in the file of the group the bad spot belongs to (a
 * write cut short), or is there one of another group? Where that group is not known (`group` undefined: the bad frame's
 * header did not read), it is the group of the first valid frame after it, if that group is past the last complete
 * one (`lastGroup`). Not always the one after it: the writer of an earlier release kept a failed group's number (its
 * cut back, the next group was two past the last complete one, log-writer.ts), so a torn first frame of the group after
 * a failed one, its later frames intact, is a torn tail too. Where the bad frame's header reads and names its group,
 * that group is the one (a frame of any other after it is damage). This release marks a group that follows another of
 * its segment (frame.ts FOLLOWS): such a first valid frame must be of the group after the last complete one read in
 * this segment (`segLast`), else the groups between were damaged (the number of the one before it is `skipped`).
 */
async function isTornTail(file: IoFile, size: number, from: number, group: number | undefined, lastGroup: number, segLast: number | undefined): Promise<{ torn: boolean; at?: number; skipped?: number }> {
  const rest = Buffer.allocUnsafe(size - from);
  await readFully(file, rest, rest.length, from);
  // from 0: the frame at `from` may be valid (one of another group than the incomplete one before it)
  for (let i = rest.indexOf(MAGIC, 0); i >= 0; i = rest.indexOf(MAGIC, i + 1)) {
    const h: FrameHeader | undefined = readFrameHeader(rest, i);
    if (!h || i + FRAME_HEADER + h.length > rest.length) continue;
    if (!frameChecks(rest, i, h, rest.subarray(i + FRAME_HEADER, i + FRAME_HEADER + h.length))) continue;
    if (group === undefined && h.group > lastGroup) {
      // Marked (this release): the group before it is of this segment and was complete before it was written; not the
      // last one read, it is damaged — acknowledged groups would be cut with the tail.
      if (h.flags & FOLLOWS && h.group - 1 !== segLast) return { torn: false, at: from + i, skipped: h.group - 1 };
      group = h.group;
    }
    if (h.group !== group) return { torn: false, at: from + i };
  }
  return { torn: true };
}

async function anyLaterData(io: Io, dir: string, later: number[]): Promise<boolean> {
  for (const num of later) {
    const f = await io.open(`${dir}/${segName(num)}`, 'r');
    try {
      if ((await f.size()) > 0) return true;
    } finally {
      await f.close();
    }
  }
  return false;
}
