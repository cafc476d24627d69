// A replica that never imported concord/yjs (this file does not: vitest isolates modules per file) still reads
// document keys: one version reads as bytes with its type; concurrent ones read unmerged, with a TYPE_NOT_LOADED
// error naming the import, and nothing is written back. A value put back keeps its type.
import { describe, expect, it } from 'vitest';
import * as Y from 'yjs';
import { memoryStorage, openReplica } from '../../lib/index.js';
import { TypedBytes, typedBytes, valueType } from '../../lib/typed.js';
import { replicas, sync } from '../support/replicas.js';

function docState(s: string): TypedBytes {
  const d = new Y.Doc();
  d.getText('t').insert(0, s);
  return typedBytes('yjs', Y.encodeStateAsUpdate(d));
}

describe('document values where concord/yjs is not loaded', () => {
  it('the yjs type is not registered in this file', () => expect(valueType('yjs')).toBeUndefined());

  it('siblings read unmerged with conflict, TYPE_NOT_LOADED names the import, nothing is written back', async () => {
    const [a, b] = await replicas(2);
    const errors: unknown[] = [];
    a!.on('error', (e) => errors.push(e));
    await a!.space('s').put('d', docState('one'));
    await b!.space('s').put('d', docState('two'));
    await sync(a!, b!, 's', ['d']);
    const seq = await a!.core.storage.getMeta<number>('seq');
    const got = await a!.space('s').get('d');
    expect(got!.conflict).toBe(true);
    expect(got!.siblings).toHaveLength(2);
    for (const s of got!.siblings) expect(s).toBeInstanceOf(TypedBytes);
    expect(await a!.core.storage.getMeta<number>('seq')).toBe(seq);
    expect(errors).toEqual([expect.objectContaining({ code: 'TYPE_NOT_LOADED', message: expect.stringContaining('concord/yjs') })]);
    // Reported once per type, not on every read.
    await a!.space('s').get('d');
    expect(errors).toHaveLength(1);
  });

  it('one version reads as bytes Y.applyUpdate accepts, and keeps its type when put back', async () => {
    const r = await openReplica({ storage: memoryStorage() });
    await r.space('s').put('d', docState('hello'));
    const v = (await r.space('s').get('d'))!.value as TypedBytes;
    expect(v.typeName).toBe('yjs');
    const d = new Y.Doc();
    Y.applyUpdate(d, v);
    expect(d.getText('t').toString()).toBe('hello');
    await r.space('s').put('copy', v);
    const stored = await r.core.storage.get('s', 'copy');
    expect((stored!.vs[0]!.v as Uint8Array)[0]).toBe(1); // typed, not plain bytes
    await r.close();
  });
});
