/**
 * The 'yjs' value type: a Yjs document held as a value. The value is the document's Yjs state (an update, as
 * `Y.encodeStateAsUpdate` gives it), read as `TypedBytes` — a Uint8Array `Y.applyUpdate` takes, that keeps its type
 * when put back. Siblings join by merging updates (`Y.mergeUpdates`), which is commutative, associative and
 * idempotent on document contents; the inputs are sorted by their bytes first, so the same set of siblings merges
 * to the same bytes on every replica (no write-back ping-pong between replicas merging at once).
 *
 * Delta hooks (for the sync engine and storage; see docs/deltas.md and delta.ts): `diff(base, next)` is the part of
 * `next` the holder of `base` lacks (structs past base's state vector, deletions base lacks), `apply` merges a delta
 * into a base, `equals` compares contents (state vectors and delete sets, not bytes). apply(base, diff(base, next))
 * equals next whenever next includes base; otherwise diff gives undefined. `compose` merges deltas (an update is a
 * delta), `checkDelta` decodes one fully (a received delta is stored as it is and applied when read), `applySize`
 * bounds what a delta can add (counting the structs of the base it can split), `working` keeps a loaded document between materializations of a chain.
 */
import * as Y from 'yjs';
import { TypedBytes, typedBytes, type ValueType, type WorkingCopies } from '../../lib/typed.js';
import { applyBound, applyDelta, checkUpdate, diffStates, sameState } from './delta.js';

export const YJS_TYPE = 'yjs';

/** A Yjs update as a document value: what `put` stores as a document, not as plain bytes. */
export function yjsValue(update: Uint8Array): TypedBytes {
  return typedBytes(YJS_TYPE, update);
}

export function isYjsValue(v: unknown): v is TypedBytes {
  return v instanceof TypedBytes && v.typeName === YJS_TYPE;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** The state of an empty document. */
const EMPTY = Y.encodeStateAsUpdate(new Y.Doc());

export const yjsType: ValueType<TypedBytes> = {
  name: YJS_TYPE,
  is: isYjsValue,
  encode: (v) => v,
  // Cheap: the bytes are kept as they are; a malformed update fails where it is merged or applied, and reads
  // report it (a read never breaks). Parsing every version on every read would cost a full decode each time.
  decode: (payload) => yjsValue(payload),
  merge(values) {
    // Y.mergeUpdates takes an update Yjs cannot integrate (an item whose origin is itself) and writes it into the
    // merge: a read's repair would then store that over the good siblings. Refused here as a malformed one is.
    if (values.length > 1) for (const v of values) checkUpdate(v);
    const sorted = [...values].sort(compareBytes);
    return yjsValue(sorted.length === 1 ? sorted[0]! : Y.mergeUpdates(sorted));
  },
  equals: (a, b) => sameState(a, b),
  diff: (base, next) => diffStates(base, next),
  apply: (base, delta) => yjsValue(applyDelta(base, delta)),
  compose: (deltas) => Y.mergeUpdates(deltas as Uint8Array[]),
  checkDelta: (delta) => checkUpdate(delta),
  // Counted from the delta's structs and delete ranges, each of which may split structs of the base (delta.ts).
  applySize: (baseSize, delta) => baseSize + applyBound(delta),
  // Loading a document is most of `apply`'s cost (8–25 ms for a 300 KB state, encoding it again 2–10 ms): a replica
  // materializing a long document's chain of deltas keeps the loaded document for next time (lib/working-copies.ts).
  working: {
    open(payload) {
      const doc = new Y.Doc();
      Y.applyUpdate(doc, payload);
      return doc;
    },
    step: (doc, delta) => Y.applyUpdate(doc, delta),
    encode: (doc) => Y.encodeStateAsUpdate(doc),
    dispose: (doc) => doc.destroy(),
  } satisfies WorkingCopies<Y.Doc>,
};

export function emptyState(): TypedBytes {
  return yjsValue(EMPTY);
}
