// bench/lib/wire.mjs: what S1 and S2 count as round trips (../shared/BENCHMARKS.md).
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { encodeMessage, MsgType } from '../lib/sync/messages.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface WireLib {
  isSignal(frame: Uint8Array): boolean;
  roundTrips(log: ReadonlyArray<{ who: string; signal: boolean }>): number;
}
const lib = async (): Promise<WireLib> => (await import(pathToFileURL(path.join(root, 'bench/lib/wire.mjs')).href)) as WireLib;

describe('bench round trips', () => {
  it('leave out frames nobody waits for: ACKs, empty CHANGES and EPOCHS (chain records, sent in the turn of the frame needing them)', async () => {
    const { isSignal, roundTrips } = await lib();
    const epochs = encodeMessage({ type: MsgType.Epochs, records: [{ e: 'E1', parent: '', fork: 0 }] });
    const ack = encodeMessage({ type: MsgType.Ack, space: 's', upTo: 3 });
    const empty = encodeMessage({ type: MsgType.Changes, space: 's', upTo: 3, entries: [] });
    const sync = encodeMessage({ type: MsgType.Sync, spaces: [] });
    expect([epochs, ack, empty].map(isSignal)).toEqual([true, true, true]);
    expect(isSignal(sync)).toBe(false);
    // b's chain reached a before a's opening turn: it answers nothing, so a's turn is the first.
    const log = [
      { who: 'b', frame: epochs },
      { who: 'a', frame: sync },
      { who: 'b', frame: sync },
      { who: 'b', frame: ack },
    ].map(({ who, frame }) => ({ who, signal: isSignal(frame) }));
    expect(roundTrips(log)).toBe(1);
  });
});
