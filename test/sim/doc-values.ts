/**
 * Values as the simulator's checks compare them, documents (Yjs) included. A dot names one *value*, not one
 * encoding: a version written or received as a delta is held as its derivation until read (lib/deltas.ts), and
 * two replicas may materialize it to different bytes (a Yjs merge is not byte-canonical). So:
 *
 *   - `peekValue` gives a stored version's encoded value without materializing it on the version itself (the
 *     engine's copy keeps its derivation: looking must not change what the run does next);
 *   - `bodyOf` is the comparable text of a version: a tombstone, a JSON/superjson text as it is, a document by
 *     its text and its Yjs state vector (what `equals` of the yjs type compares, beside the delete set, which
 *     the simulator never makes), other bytes by their contents.
 *
 * Documents in the simulator are Yjs docs with one text, DOC_TEXT, into which edits insert one marker each.
 */
import * as Y from 'yjs';
import { isYjsValue, YJS_TYPE } from '../../adapters/yjs/type.js'; // (the type is registered by whoever writes documents)
import { valueOf } from '../../lib/deltas.js';
import type { StoredVersion } from '../../lib/dvv.js';
import { TYPED, typedParts } from '../../lib/values.js';

export const DOC_TEXT = 't';

/** The text of a Yjs update (a document's state). */
export function docText(update: Uint8Array): string {
  const d = new Y.Doc();
  Y.applyUpdate(d, update);
  return d.getText(DOC_TEXT).toString();
}

/** A read value's document text, or undefined when it is not a document. */
export function readDocText(v: unknown): string | undefined {
  return isYjsValue(v) ? docText(v) : undefined;
}

/** A copy of a derived version and of the derived versions under it (materializing the copy leaves these alone). */
function detached(v: StoredVersion, memo: Map<StoredVersion, StoredVersion>): StoredVersion {
  if (v.v !== undefined || !v.x) return v;
  const seen = memo.get(v);
  if (seen) return seen;
  const copy: StoredVersion = { ...v, x: { ...v.x, ...(v.x.base ? { base: v.x.base.map((b) => detached(b, memo)) } : {}) } };
  memo.set(v, copy);
  return copy;
}

/** A version's encoded value (undefined for a tombstone, or one that cannot be made here). */
export function peekValue(v: StoredVersion): string | Uint8Array | undefined {
  if (v.d) return undefined;
  if (v.v !== undefined) return v.v;
  try {
    return valueOf(detached(v, new Map()));
  } catch {
    return undefined;
  }
}

/** A version's value as comparable text (see the module header). */
export const bodyOf = (v: StoredVersion): string => {
  if (v.d) return '<deleted>';
  const value = peekValue(v);
  if (value === undefined) return v.x ? `<underivable: ${v.x.b.map(([r, n]) => `${r}:${n}`).join(' ')}>` : '';
  if (typeof value === 'string') return value;
  if (value[0] === TYPED) {
    try {
      const { name, payload } = typedParts(value);
      if (name === YJS_TYPE) {
        const sv = [...Y.decodeStateVector(Y.encodeStateVectorFromUpdate(payload))].sort((a, b) => a[0] - b[0]);
        return `doc ${JSON.stringify(docText(payload))} sv{${sv.map(([c, k]) => `${c}:${k}`).join(',')}}`;
      }
    } catch {
      // not a well-formed document: compared by its bytes
    }
  }
  return `bytes:${Array.prototype.join.call(value, ',')}`;
};
