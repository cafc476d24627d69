/**
 * The shared documents: each a Yjs document held as a value (`concord/yjs`) under `docs/<id>`, edited in
 * CodeMirror 6 through y-codemirror.next, with the other devices' cursors and selections shown (awareness carried
 * by `space.presence`). Every document of the space syncs over the one connection the replica holds; the list
 * (docs-list.ts) creates, renames and opens them.
 */
import { defaultKeymap, history, historyKeymap } from '@codemirror/commands';
import { EditorState } from '@codemirror/state';
import { EditorView, keymap, lineNumbers } from '@codemirror/view';
import { yCollab } from 'y-codemirror.next';
import { Awareness } from 'y-protocols/awareness';
import type * as Y from 'yjs';
import { bindAwareness, openDoc } from '../../adapters/yjs/index.js';
import { DOC_PREFIX, type App } from './app.js';
import { byId } from './dom.js';

const COLORS = ['#d9480f', '#1971c2', '#2f9e44', '#9c36b5', '#e67700', '#0c8599', '#c2255c', '#5f3dc4'];

/** A stable color per device name. */
export function colorOf(name: string): string {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) >>> 0;
  return COLORS[h % COLORS.length]!;
}

interface Open {
  readonly id: string;
  readonly doc: Y.Doc;
  readonly view: EditorView;
  readonly awareness: Awareness;
  readonly unbind: () => void;
}

export interface DocEditor {
  /** Opens document `id` in the editor (closing the one open before). */
  open(id: string): Promise<void>;
  readonly current: string | undefined;
  /** The open document's text (for people in the console, and the browser tests). */
  text(): string;
}

export function mountDoc(app: App): DocEditor {
  const host = byId('doc-editor');
  const info = byId('doc-info');
  let open: Open | undefined;
  let opening: Promise<void> = Promise.resolve();

  const describe = (o: Open) => {
    const remote = o.awareness.getStates().size - 1;
    const chars = o.view.state.doc.length;
    // Awareness, like presence, is only news while connected: offline, the others' cursors are as last seen.
    const s = app.replica.status;
    const others =
      s === 'synced' || s === 'syncing'
        ? `${remote} other ${remote === 1 ? 'editor' : 'editors'} here`
        : remote > 0
          ? 'not connected: others’ cursors as last seen'
          : 'not connected';
    info.textContent = `${chars} ${chars === 1 ? 'character' : 'characters'} · ${others}`;
  };

  const close = () => {
    if (!open) return;
    open.unbind();
    open.view.destroy();
    open.awareness.destroy();
    open.doc.destroy();
    open = undefined;
  };

  const openNow = async (id: string) => {
    if (open?.id === id) return;
    close();
    const doc = await openDoc(app.space, DOC_PREFIX + id, { onError: (e) => console.error('document:', e) });
    const awareness = new Awareness(doc);
    awareness.setLocalStateField('user', { name: app.device.name, color: colorOf(app.device.name), colorLight: colorOf(app.device.name) + '33' });
    const ytext = doc.getText('body');
    const view = new EditorView({
      parent: host,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          lineNumbers(),
          history(),
          keymap.of([...defaultKeymap, ...historyKeymap]),
          EditorView.lineWrapping,
          yCollab(ytext, awareness),
          EditorView.updateListener.of((u) => {
            if (u.docChanged && open) describe(open);
          }),
        ],
      }),
    });
    const unbind = bindAwareness(app.space, DOC_PREFIX + id, awareness);
    open = { id, doc, view, awareness, unbind };
    awareness.on('change', () => open && describe(open));
    host.dataset.doc = id;
    describe(open);
  };

  app.replica.on('status', () => open && describe(open));

  return {
    open(id) {
      opening = opening.then(() => openNow(id)).catch((e: unknown) => console.error('document:', e));
      return opening;
    },
    get current() {
      return open?.id;
    },
    text: () => open?.view.state.doc.toString() ?? '',
  };
}
