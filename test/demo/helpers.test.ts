// The demo's pure helpers: caret placement under remote edits, the line merge offered for note siblings,
// rebasing a textarea edit onto a document that moved on, and device naming.
import { describe, expect, it } from 'vitest';
import { merges } from '../../lib/index.js';
import { moveCaret } from '../../demo/src/caret.js';
import { chooseDevice, cleanDeviceName } from '../../demo/src/device.js';
import { mergeLines } from '../../demo/src/line-merge.js';
import { rebaseEdit } from '../../demo/src/text-rebase.js';

const { text } = merges;

describe('moveCaret', () => {
  it.each([
    ['abc', 'abXc', 1, 1, 'before the change: stays'],
    ['abc', 'Xabc', 2, 3, 'after an insert: shifts right'],
    ['abcdef', 'adef', 5, 3, 'after a deletion: shifts left'],
    ['abcdef', 'aXf', 3, 2, 'inside a replaced span: goes to its new end'],
    ['same', 'same', 2, 2, 'no change'],
  ])('%s → %s, caret %i → %i (%s)', (before, after, caret, want) => {
    expect(moveCaret(before, after, caret)).toBe(want);
  });
});

describe('mergeLines', () => {
  it('keeps every line of every version once, in each version’s order', () => {
    expect(mergeLines(['a\nb\nc', 'a\nx\nc'])).toBe('a\nb\nx\nc');
    expect(mergeLines(['plan\ntent\ncarol', 'plan\ntent\ndave'])).toBe('plan\ntent\ncarol\ndave');
    expect(mergeLines(['one'])).toBe('one');
    expect(mergeLines(['x\ny', 'x\ny'])).toBe('x\ny');
  });
});

describe('rebaseEdit', () => {
  it('applies the edit made on what the textarea showed without deleting lines that arrived meanwhile', () => {
    const shown = text.from('hello\nworld', 'A');
    const current = text([shown, text.edit(shown, 'B', 'hello\nfrom B\nworld')], { key: 'doc', space: 's', versions: [] });
    const r = rebaseEdit(current, shown, 'A', 'hello\nworld\nfrom A');
    expect(text.value(r.shown)).toBe('hello\nworld\nfrom A');
    expect(text.value(r.stored)).toBe('hello\nfrom B\nworld\nfrom A');
    // Line ids stay unique: A's new line got a counter above every counter of the stored document.
    const ids = r.stored.lines.map((l) => `${l.r}:${l.n}`);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('a deletion of a shown line is kept', () => {
    const shown = text.from('a\nb\nc', 'A');
    const r = rebaseEdit(shown, shown, 'A', 'a\nc');
    expect(text.value(r.stored)).toBe('a\nc');
  });

  it('no edit: the stored document is returned as it is', () => {
    const shown = text.from('a', 'A');
    expect(rebaseEdit(undefined, shown, 'A', 'a').stored).toEqual(text.empty());
  });
});

describe('devices', () => {
  it('?device= names its own IndexedDB database; otherwise the stored default', () => {
    expect(chooseDevice('?device=Bob', 'alice')).toEqual({ name: 'bob', dbName: 'concord-demo-bob', explicit: true });
    expect(chooseDevice('', 'alice')).toEqual({ name: 'alice', dbName: 'concord-demo-alice', explicit: false });
    expect(chooseDevice('', null, () => 0).name).toBe('amber-otter');
    expect(cleanDeviceName('  my phone!! ')).toBe('my-phone');
    expect(cleanDeviceName('???')).toBeUndefined();
  });
});
