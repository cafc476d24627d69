// A delta against a base its receiver no longer holds (docs/deltas.md): the receiver then asks for the key whole (NEED).
import type * as Y from 'yjs';
import { flushDoc } from '../../adapters/yjs/index.js';
import type { Gate } from './gate.js';

/**
 * b (`db`, whose frames go through `gb`) writes over the version both hold while its frames are held, so a (`da`)
 * still thinks b holds that version; a's next edit then goes to b as a delta on a base b no longer holds.
 */
export async function deltaOnLostBase(da: Y.Doc, db: Y.Doc, gb: Gate): Promise<void> {
  gb.hold();
  db.getText('body').insert(0, 'B');
  await flushDoc(db);
  da.getText('body').insert(0, 'A');
  await flushDoc(da);
}
