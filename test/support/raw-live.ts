/**
 * A hand-written peer's LIVE frames at protocol 11 (lib/sync/live.ts), for hostile tests of a link's LIVE tables: strings
 * go through the connection's table as its receiver keeps it (conn-table.ts: seeded with both ids, the sender's first;
 * emptied by a LIVE_CLEARED frame).
 */
import { Writer } from '../../lib/sync/codec.js';
import { MsgType } from '../../lib/sync/messages.js';

export type Sym = (s: string) => void;
export type Body = (w: Writer, sym: Sym) => void;

/** A peer's LIVE frames: each written by `body`, after the type byte. */
export function rawLive(seed: readonly string[]): (body: Body, cleared?: boolean) => Uint8Array {
  let strings = new Map<string, number>();
  const reset = () => (strings = new Map(seed.map((x, i) => [x, i])));
  reset();
  return (body, cleared = false) => {
    if (cleared) reset();
    const w = new Writer();
    w.u8(cleared ? MsgType.LiveCleared : MsgType.Live);
    body(w, (x) => {
      const i = strings.get(x);
      if (i !== undefined) return w.uint(i + 1);
      strings.set(x, strings.size);
      w.uint(0);
      w.str(x);
    });
    return w.finish();
  };
}

/**
 * A LIVE body: space `s`, the log one further, `key`, and a state of one tombstone of `r` at `n` (its time `dt` after
 * the connection's last) naming its epoch by `ref` — the state's head (one version, implied context, some version
 * named), the replica id, counter, time, word (a tombstone, named), reference.
 */
export const tombstoneNaming =
  (key: string, r: string, n: number, ref: (w: Writer) => void, dt = 0): Body =>
  (w, sym) => {
    sym('s');
    w.uint(1);
    sym(key);
    w.uint((1 * 2 + 0) * 2 + 1);
    sym(r);
    w.uint(n);
    w.int(dt);
    w.uint((0 * 2 + 1) * 4 + 1);
    ref(w);
  };

/** A reference making a new table entry: epoch `label`, one record forking from the untagged root at 0. */
export const newEntry = (label: string) => (w: Writer) => {
  w.uint(0);
  w.uint(1 * 2 + 1);
  w.str(label);
  w.uint(0);
};
