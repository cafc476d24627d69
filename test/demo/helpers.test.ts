// The demo's pure helpers: caret placement under remote edits, the line merge offered for note siblings, device
// naming, and the notation of dots and contexts.
import { describe, expect, it } from 'vitest';
import { moveCaret } from '../../demo/src/caret.js';
import { chooseDevice, cleanDeviceName } from '../../demo/src/device.js';
import { mergeLines } from '../../demo/src/line-merge.js';
import { dotOfWrite, formatContext, formatDot } from '../../demo/src/notation.js';
import { memoryStorage, openReplica } from '../../lib/index.js';

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

describe('notation', () => {
  it('a dot is replica·counter and a context {replica: counter, …}, replicas by 8 characters, counters in decimal', () => {
    expect(formatDot('Zc_bQfJNxxxxxxxx', 12)).toBe('Zc_bQfJN·12');
    // The stored form counts in base 36 ('a' is 10, '10' is 36): shown in decimal, like the dots.
    expect(formatContext('Zc_bQfJNxxxxxxxx:a,L-ZntHf5yyyyyyyy:10')).toBe('{L-ZntHf5: 36, Zc_bQfJN: 10}');
    expect(formatContext('')).toBe('{}');
    expect(formatContext('not a context')).toBe('not a context');
    // Dots naming their epoch (protocol 11): the replica's highest counter, as for an untagged context.
    expect(formatContext('Zc_bQfJNxxxxxxxx:4@AapK3e_4,Zc_bQfJNxxxxxxxx:9@6quG5Gub,L-ZntHf5yyyyyyyy:a')).toBe('{L-ZntHf5: 10, Zc_bQfJN: 9}');
  });

  it('the dot of a write is the one its version carries, and the context after it contains it', async () => {
    const replica = await openReplica({ storage: memoryStorage() });
    const space = replica.space('s');
    const first = await space.put('k', 1);
    const second = await space.put('k', 2);
    const read = (await space.get('k'))!;
    const v = read.versions[0]!;
    expect(dotOfWrite(second, replica.replicaId)).toBe(formatDot(v.replicaId, v.counter));
    expect(dotOfWrite(first, replica.replicaId)).not.toBe(dotOfWrite(second, replica.replicaId));
    expect(formatContext(read.context)).toBe(`{${formatDot(v.replicaId, v.counter).replace('·', ': ')}}`);
    await replica.close();
  });
});
