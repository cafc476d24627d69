/**
 * `openDoc(space, key)`: a Y.Doc kept in sync with one key, both ways.
 *
 *   local edit   → the doc's 'update' events are collected and written after `writeDelay` ms (default 5), so a
 *                  burst of edits is one write: `space.update(key, …)` joins what the key holds with the doc
 *                  (the stored state is applied to the doc first, then the doc's whole state is written), so a
 *                  write never supersedes a version the doc has not seen;
 *   remote change → `space.subscribe(key)` applies the key's (merged) value to the doc, tagged with this
 *                  binding as origin, so it is not written back;
 *   doc.destroy() → pending edits are written, the subscription ends; the key keeps its state.
 *
 * The key's value is the document's Yjs state (type.ts). Until the engine carries deltas (docs/deltas.md), each
 * write stores and sends the whole state; a state the doc already holds is recognised by its context and not
 * applied again.
 */
import * as Y from 'yjs';
import type { Space, WriteResult } from '../../lib/space.js';
import { registerValueType } from '../../lib/typed.js';
import { isYjsValue, yjsType, yjsValue } from './type.js';

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

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The document states of a read: its (merged) value, or every sibling that is a document state when the siblings
 * are unmerged (a plain value put on the key is not one; a state whose merge failed still applies on its own).
 */
function states(value: unknown, siblings: readonly unknown[] = []): Uint8Array[] {
  if (siblings.length > 1) return siblings.filter(isYjsValue);
  return isYjsValue(value) ? [value] : [];
}

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
  /** The context of the key's state right after our last write, and the bytes written: recognised, not re-applied. */
  let ownContext: string | undefined;
  let ownBytes: Uint8Array | undefined;
  let detached = false;

  const apply = (update: Uint8Array) => {
    try {
      Y.applyUpdate(doc, update, origin);
    } catch (e) {
      onError(e);
    }
  };

  const write = (): Promise<WriteResult | undefined> => {
    timer = undefined;
    if (pending.length === 0) return chain;
    pending = [];
    chain = chain
      .catch(() => undefined)
      .then(() =>
        space.update(key, (current, read) => {
          // Bring in what the key holds that the doc may lack (unless it is our own last write), then store the doc.
          if (!read || read.context !== ownContext) for (const s of states(current, read?.siblings)) apply(s);
          ownBytes = Y.encodeStateAsUpdate(doc);
          return yjsValue(ownBytes);
        }),
      )
      .then((w) => {
        ownContext = w.context;
        return w;
      });
    chain.catch(onError);
    return chain;
  };

  const onUpdate = (update: Uint8Array, from: unknown) => {
    if (from === origin || detached) return;
    pending.push(update);
    if (timer === undefined) timer = setTimeout(write, delay);
  };

  const initial = await space.get(key);
  if (initial) for (const s of states(initial.value, initial.siblings)) apply(s);
  const stop = space.subscribe(key, (change) => {
    if (change.key !== key || change.deleted) return;
    const got = states(change.value, change.siblings);
    // Our own write, reported back: the doc has it.
    if (change.origin === 'local' && got.length === 1 && ownBytes && sameBytes(got[0]!, ownBytes)) return;
    for (const s of got) apply(s);
  });
  doc.on('update', onUpdate);
  bindings.set(doc, {
    flush: () => {
      if (timer !== undefined) clearTimeout(timer);
      return write();
    },
  });
  doc.once('destroy', () => {
    detached = true;
    doc.off('update', onUpdate);
    stop();
    if (timer !== undefined) clearTimeout(timer);
    if (pending.length > 0) void write();
    bindings.delete(doc);
  });
  return doc;
}
