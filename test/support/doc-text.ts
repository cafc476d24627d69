import * as Y from 'yjs';
import { isYjsValue } from '../../adapters/yjs/index.js';
import type { Replica } from '../../lib/index.js';

/** The text `field` of the Yjs document `key` of space `space` holds, as `r` reads it (undefined: no document there). */
export async function docText(r: Replica, key: string, field = 'body', space = 's'): Promise<string | undefined> {
  const got = await r.space(space).get(key);
  if (!got || !isYjsValue(got.value)) return undefined;
  const d = new Y.Doc();
  Y.applyUpdate(d, got.value);
  return d.getText(field).toString();
}
