/**
 * Where a data directory lives, on the disk (StorageAdapter `location`): the identity (io.ts `identify`) of a file
 * `PLACE` made once in the directory and never written again. The directory's own identity would not do: its change
 * time moves at every open, with LOCK. A copy or restore that makes the file anew gives it another (inode reused or
 * not, its times differ). Not told: `PLACE` left in place or copied over the old one (rsync skipping it), a
 * block-level image or snapshot of the volume.
 */
import { ioError } from './io-errors.js';
import { createExclusive, type Io } from './io.js';

const NOTE = new TextEncoder().encode('Marks this directory as the place of its data: a copy of the directory gets a new replica id.\n');

/** The directory's place, making `PLACE` on the first call; undefined where the io cannot identify files. */
export async function placeOf(io: Io, dir: string): Promise<string | undefined> {
  if (!io.identify) return undefined;
  const place = `${dir}/PLACE`;
  try {
    await createExclusive(io, place, NOTE);
    // Also when the file was there: a process that made it and died before this fsync may have left an entry a
    // machine crash would still lose (the next open would make PLACE anew and take a new replica id for nothing).
    await io.syncDir(dir);
    return await io.identify(place);
  } catch (e) {
    throw ioError(e, `reading where ${dir} is`);
  }
}
