// The demo's pure helpers: caret placement under remote edits, the line merge offered for note siblings, and
// device naming.
import { describe, expect, it } from 'vitest';
import { moveCaret } from '../../demo/src/caret.js';
import { chooseDevice, cleanDeviceName } from '../../demo/src/device.js';
import { mergeLines } from '../../demo/src/line-merge.js';

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

describe('devices', () => {
  it('?device= names its own IndexedDB database; otherwise the stored default', () => {
    expect(chooseDevice('?device=Bob', 'alice')).toEqual({ name: 'bob', dbName: 'concord-demo-bob', explicit: true });
    expect(chooseDevice('', 'alice')).toEqual({ name: 'alice', dbName: 'concord-demo-alice', explicit: false });
    expect(chooseDevice('', null, () => 0).name).toBe('amber-otter');
    expect(cleanDeviceName('  my phone!! ')).toBe('my-phone');
    expect(cleanDeviceName('???')).toBeUndefined();
  });
});
