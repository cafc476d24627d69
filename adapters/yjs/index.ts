/**
 * `concord/yjs`: Yjs documents as values. Importing it registers the 'yjs' value type, so on this replica the
 * siblings of a document key always merge (Yjs updates join) and never show a conflict; `openDoc` binds a Y.Doc to a
 * key both ways; `bindAwareness` carries an editor's cursors through `space.presence`.
 *
 *   import { openDoc } from 'concord/yjs';
 *   const doc = await openDoc(space, 'docs/readme');
 *   doc.getText('body').insert(0, 'hello');
 *   (await space.get('docs/readme'))?.value   // Uint8Array: the document's Yjs state
 *
 * `yjs` is an optional peer dependency of concord, imported only here: the core never pulls it in.
 */
import { registerValueType } from '../../lib/typed.js';
import { yjsType } from './type.js';

registerValueType(yjsType);

export { openDoc, flushDoc, type OpenDocOptions } from './doc.js';
export { bindAwareness, type AwarenessLike, type AwarenessChanges, type BindAwarenessOptions } from './awareness.js';
export { yjsValue, isYjsValue, yjsType, YJS_TYPE } from './type.js';
