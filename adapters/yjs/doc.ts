/**
 * `openDoc(space, key)`: a Y.Doc kept in sync with one key, both ways, change by change (docs/deltas.md).
 *
 *   local edit    → the doc's 'update' events are collected and written after `writeDelay` ms (default 5), so a
 *                   burst of edits is one write: the merged updates are written as a delta against every live version
 *                   the key holds (read in the write's transaction), so the write costs about the edit, on disk and on
 *                   the wire, and supersedes only versions whose contents it includes. If the key holds versions the
 *                   doc has not seen, they are applied to the doc first;
 *   remote change → a version derived from exactly the versions the doc holds brings its delta, which is applied as
 *                   it is; anything else applies the key's (merged) value. Changes are tagged with this binding as
 *                   origin, so they are not written back;
 *   a doc with contents → what the key lacks of them is written before openDoc resolves (not at the first edit);
 *   doc.destroy() → pending edits are written, the watch ends; the key keeps its state.
 *   replica.close() → every bound doc's owed edits are written first (a write timer still pending, a destroy's write
 *                   in flight or failed); close rejects with the writes that failed.
 *   a failed write → reported (onError, flushDoc rejects); its edits stay owed: the next flushDoc, edit, destroy or
 *                   close writes the doc's whole state, so what the editor showed is not dropped with the error.
 *   a read-only space (a viewer: `{ readOnly: true }`, or read rights only) → remote changes apply as above; the
 *                   doc's own edits, and contents it came with, stay in the doc: not written, not owed to close(), not
 *                   reported. Should the space turn writable, the doc's next edit writes its whole state.
 *
 * The updates collected are copies: Yjs hands one array to every 'update' listener, and an app's may reuse it or
 * transfer its buffer (to a worker) — the delta stored and sent would be what it left there.
 *
 * Invariant: `held` names live versions of the key whose contents the doc holds, and apart from them the doc holds
 * only the edits in `pending` — so a delta write (value = merge(live versions) + pending) has exactly the doc's
 * contents. Where the doc may hold more (it came with contents of its own, a write failed, the key holds a value
 * that is not a document), the next write is the doc's whole state.
 */
import * as Y from 'yjs';
import { versionType } from '../../lib/deltas.js';
import type { StoredVersion } from '../../lib/dvv.js';
import type { Space, WriteResult } from '../../lib/space.js';
import type { GetResult } from '../../lib/types.js';
import { registerValueType } from '../../lib/typed.js';
import { includesState } from './delta.js';
import { isYjsValue, YJS_TYPE, yjsType, yjsValue } from './type.js';

export interface OpenDocOptions {
  /** The document to bind (default: a new Y.Doc). */
  doc?: Y.Doc;
  /** Milliseconds to collect local updates before writing them as one (default 5; 0: the next macrotask). */
  writeDelay?: number;
  /** Called with failures of background writes and of applying a received state (default: console.error). */
  onError?: (error: unknown) => void;
}

interface Binding {
  flush(): Promise<WriteResult | undefined>;
}

const bindings = new WeakMap<Y.Doc, Binding>();

/** Resolves once every local edit made so far is durable locally (with the write, or undefined when none was pending). */
export function flushDoc(doc: Y.Doc): Promise<WriteResult | undefined> {
  return bindings.get(doc)?.flush() ?? Promise.resolve(undefined);
}

/**
 * The document states of a read: its (merged) value, or every sibling that is a document state when the siblings
 * are unmerged (a plain value put on the key is not one; a state whose merge failed still applies on its own).
 */
function states(read: GetResult | undefined): Uint8Array[] {
  if (!read) return [];
  if (read.siblings.length > 1) return read.siblings.filter(isYjsValue);
  return isYjsValue(read.value) ? [read.value] : [];
}

/** The live versions' dots, as one comparable string ('' for none). */
function dots(vs: readonly StoredVersion[]): string {
  let out = '';
  for (const v of vs) if (!v.d) out += (out ? ',' : '') + v.r + ':' + v.n;
  return out;
}

function baseDots(v: StoredVersion): string {
  return v.x ? v.x.b.map(([r, n]) => r + ':' + n).join(',') : '';
}

/**
 * Binds a Y.Doc to `key` both ways (see the module header). On a read-only space (a viewer) the doc follows the key,
 * and its local edits stay its own: they are not the store's, so nothing is written and nothing is reported for them;
 * opening and closing (the doc, the replica) succeed.
 */
export async function openDoc(space: Space, key: string, options: OpenDocOptions = {}): Promise<Y.Doc> {
  // Also registered by index.ts on import; here too, so a bundler that drops index.ts's body keeps the type.
  registerValueType(yjsType);
  const doc = options.doc ?? new Y.Doc();
  if (bindings.has(doc)) throw new Error('openDoc: this Y.Doc is already bound to a key');
  const delay = options.writeDelay ?? 5;
  const onError = options.onError ?? ((e: unknown) => console.error('concord/yjs:', e));
  const origin = { binding: key };
  let pending: Uint8Array[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let chain: Promise<WriteResult | undefined> = Promise.resolve(undefined);
  /** Live versions of the key whose contents the doc holds (see the invariant above). */
  let held = '';
  /** The doc may hold contents the key lacks beyond `pending`: the next write is whole. */
  let whole = doc.store.clients.size > 0;
  /** A write failed and none succeeded since: the doc holds edits the key lacks even with nothing pending. */
  let unsaved = false;
  /** What our last write carried (its delta or value bytes): its change event is recognised by identity. */
  let ours: Uint8Array | undefined;
  let detached = false;

  const apply = (update: Uint8Array): boolean => {
    try {
      Y.applyUpdate(doc, update, origin);
      return true;
    } catch (e) {
      onError(e);
      return false;
    }
  };

  const applyRead = (read: () => GetResult | undefined, vs: readonly StoredVersion[]) => {
    let ok = true;
    for (const s of states(read())) ok = apply(s) && ok;
    if (ok) held = dots(vs);
  };

  const write = (): Promise<WriteResult | undefined> => {
    timer = undefined;
    if (pending.length === 0 && !unsaved) return chain;
    if (space.readOnly) {
      // A viewer: its edits (and contents it came with) are the doc's, not the store's — nothing written, nothing owed,
      // no error. The doc holds more than the key now: should the space turn writable, its next write is whole.
      pending = [];
      unsaved = false;
      whole = true;
      return chain;
    }
    const updates = pending;
    pending = [];
    chain = chain
      .catch(() => undefined)
      .then(() =>
        space.writeWith(key, (cur, read) => {
          const vs = cur?.vs ?? [];
          // Bring in what the key holds that the doc lacks.
          if (dots(vs) !== held) applyRead(read, vs);
          const live = vs.filter((v) => !v.d);
          if (whole || live.length === 0 || held !== dots(vs) || live.some((v) => versionType(v) !== YJS_TYPE)) {
            ours = Y.encodeStateAsUpdate(doc);
            return { value: yjsValue(ours) };
          }
          ours = updates.length === 1 ? updates[0]! : Y.mergeUpdates(updates);
          // When the key's chain must be cut, the doc's own state is the value (cheaper than applying the chain) —
          // only while the doc holds nothing beyond the delta's edits (no edit made since they were taken).
          return pending.length === 0 ? { delta: ours, type: YJS_TYPE, whole: () => Y.encodeStateAsUpdate(doc) } : { delta: ours, type: YJS_TYPE };
        }),
      )
      .then(
        (w) => {
          whole = false;
          unsaved = false;
          return w;
        },
        (e: unknown) => {
          // The updates are in the doc but not in the key: the next write (flushDoc, an edit, destroy) is whole.
          whole = true;
          unsaved = true;
          throw e;
        },
      );
    chain.catch(onError);
    return chain;
  };

  const onUpdate = (update: Uint8Array, from: unknown) => {
    if (from === origin || detached) return;
    // A copy: every 'update' listener is handed this array, and one may change it or transfer its buffer to a worker.
    pending.push(update.slice());
    if (timer === undefined) timer = setTimeout(write, delay);
  };

  // A doc that comes with contents: what the key lacks of them is owed at once (not at the first edit).
  const brought = whole ? Y.encodeStateAsUpdate(doc) : undefined;
  const initial = await space.readRecord(key);
  if (initial) applyRead(initial.read, initial.rec.vs);
  if (brought && !keyIncludes(initial && states(initial.read()), brought)) unsaved = true;
  const stop = space.watch(key, (change, read) => {
    if (detached) return;
    const live = change.rec.vs.filter((v) => !v.d);
    if (live.length === 0) return; // deleted: the doc keeps what it shows
    if (dots(live) === held) return; // nothing the doc lacks
    const only = live.length === 1 ? live[0]! : undefined;
    // Our own write, reported back: the doc has it.
    if (only && ours && (only.x?.d === ours || only.v === ours || sameTail(only.v, ours))) {
      held = dots(live);
      return;
    }
    // A version derived from exactly what the doc holds: its delta is the change.
    if (only?.x && held !== '' && baseDots(only) === held && apply(only.x.d)) {
      held = dots(live);
      return;
    }
    applyRead(read, live);
  });
  doc.on('update', onUpdate);
  const flush = () => {
    if (timer !== undefined) clearTimeout(timer);
    return write();
  };
  bindings.set(doc, { flush });
  // The replica's close() writes what the doc owes first (or rejects with why it could not): typed, then closed.
  const release = space.owe(flush);
  doc.once('destroy', () => {
    detached = true;
    doc.off('update', onUpdate);
    stop();
    if (timer !== undefined) clearTimeout(timer);
    const last = pending.length > 0 || unsaved ? write() : chain;
    // Owed to close() until written: a destroy's write still in flight, or failed, is made (or told) there.
    last.then(() => !unsaved && pending.length === 0 && release(), () => undefined);
    bindings.delete(doc);
  });
  // Its own contents the key lacked: stored before openDoc resolves (a failure is told as a write's, and stays owed).
  if (unsaved) await write().catch(() => undefined);
  return doc;
}

/** Whether the key's document states (none when it holds none) hold everything of `state`. */
function keyIncludes(held: readonly Uint8Array[] | undefined, state: Uint8Array): boolean {
  if (!held || held.length === 0) return false;
  return includesState(held.length === 1 ? held[0]! : Y.mergeUpdates(held as Uint8Array[]), state);
}

/** Whether an encoded typed value carries exactly `payload` (our whole-state write, stored with its type header). */
function sameTail(v: string | Uint8Array | undefined, payload: Uint8Array): boolean {
  if (!(v instanceof Uint8Array) || v.length !== payload.length + 2 + YJS_TYPE.length) return false;
  const off = v.length - payload.length;
  for (let i = 0; i < payload.length; i++) if (v[off + i] !== payload[i]) return false;
  return true;
}
