/**
 * A reader behind a relay, watched for a reconnect loop: the errors its app is told, and how often its link dropped
 * once it had synced (a frame it refuses closes the link; a loop drops it again and again).
 */
import type { Replica } from '../../lib/index.js';

export interface ReaderWatch {
  readonly errors: unknown[];
  /** Drops of the link after the first 'synced'. */
  drops(): number;
  synced(): boolean;
}

export function watchReader(reader: Replica): ReaderWatch {
  const errors: unknown[] = [];
  reader.on('error', (e) => errors.push(e));
  let drops = 0;
  let seenSynced = false;
  reader.on('status', (s) => {
    if (s === 'synced') seenSynced = true;
    else if (seenSynced && (s === 'connecting' || s === 'offline')) drops++;
  });
  return { errors, drops: () => drops, synced: () => seenSynced };
}
