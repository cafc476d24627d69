// openDoc after a write of the document's edits failed (the storage refused a commit: a full disk, a quota, a
// storage closing under it): the doc shows the edits, the key lacks them. The binding must write them — the next
// flushDoc, a later edit, or doc.destroy() — not hold them in the doc only (a destroy dropped them silently).
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { flushDoc, isYjsValue, openDoc } from '../../adapters/yjs/index.js';
import { openReplica } from '../../lib/index.js';
import { failingCommits } from '../support/failing-commits.js';
import { until } from '../sync/support.js';

const KEY = 'docs/failing';

async function textOf(space: ReturnType<Awaited<ReturnType<typeof openReplica>>['space']>): Promise<string> {
  const got = await space.get(KEY);
  if (!got || !isYjsValue(got.value)) return '';
  const d = new Y.Doc();
  Y.applyUpdate(d, got.value);
  return d.getText('body').toString();
}

describe('openDoc after a failed write', () => {
  for (const then of ['flushDoc', 'destroy'] as const) {
    it(`the edits the failed write carried reach the key on ${then}()`, async () => {
      const { storage, fail } = failingCommits();
      const r = await openReplica({ storage });
      const s = r.space('s');
      const errors: unknown[] = [];
      const doc = await openDoc(s, KEY, { onError: (e) => errors.push(e) });
      doc.getText('body').insert(0, 'hello');
      await flushDoc(doc);
      expect(await textOf(s)).toBe('hello');
      fail.on = true;
      doc.getText('body').insert(5, ' world');
      await expect(flushDoc(doc)).rejects.toThrow(/ENOSPC/);
      expect(fail.count).toBeGreaterThan(0);
      expect(errors.length).toBeGreaterThan(0);
      fail.on = false; // the disk has room again; the app made no further edit
      if (then === 'flushDoc') await flushDoc(doc);
      else doc.destroy();
      await until(async () => (await textOf(s)) === 'hello world', `the key holding the doc's text (it holds "${await textOf(s)}")`, 2000).catch(() => undefined);
      expect(await textOf(s)).toBe('hello world');
      doc.destroy();
      await r.close();
    });
  }
});
