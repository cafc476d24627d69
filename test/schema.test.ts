// Typed spaces at run time: Standard Schema validators (zod here; any `~standard` implementation works)
// refuse bad values with 'INVALID_VALUE' before anything is stored. The compile-time half is
// test/types/typed-space.types.ts, checked by tsc.
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { isConcordError, memoryStorage, openReplica, type StandardSchemaV1 } from '../lib/index.js';

const Todo = z.object({ title: z.string().min(1), done: z.boolean().default(false) });

async function replica() {
  return openReplica({ storage: memoryStorage() });
}

async function refusal(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isConcordError(e) ? `${e.code}: ${e.message}` : `not a ConcordError: ${String(e)}`;
  }
  return 'accepted';
}

describe('typed spaces with Standard Schema validators', () => {
  it('stores the validator output and refuses a bad value with INVALID_VALUE, storing nothing', async () => {
    const r = await replica();
    const space = r.space('s', { schema: { 'todo/*': Todo } });
    await space.put('todo/1', { title: 'milk' } as never);
    expect((await space.get('todo/1'))?.value).toEqual({ title: 'milk', done: false }); // the default applied
    const events: string[] = [];
    space.subscribe('*', (c) => events.push(c.key));
    const why = await refusal(space.put('todo/1', { title: '', done: 'yes' } as never));
    expect(why).toMatch(/^INVALID_VALUE: "todo\/1" in space "s" does not match its schema: .*title/);
    expect(await refusal(space.put('todo/2', 'not an object' as never))).toMatch(/^INVALID_VALUE/);
    expect((await space.get('todo/1'))?.value).toEqual({ title: 'milk', done: false });
    expect(await space.get('todo/2')).toBeUndefined();
    expect(events).toEqual([]);
    await r.close();
  });

  it('update refuses a bad result inside its transaction and keeps the stored value', async () => {
    const r = await replica();
    const space = r.space('s', { schema: { 'n/*': z.number().int() } });
    await space.put('n/a', 1);
    expect(await refusal(space.update('n/a', (n) => (n ?? 0) + 0.5))).toMatch(/^INVALID_VALUE/);
    expect((await space.get('n/a'))?.value).toBe(1);
    await space.update('n/a', (n) => (n ?? 0) + 1);
    expect((await space.get('n/a'))?.value).toBe(2);
    await r.close();
  });

  it('the most specific pattern decides; keys no validator matches are stored unchecked', async () => {
    const r = await replica();
    const space = r.space('s', { schema: { 'doc/*': z.string(), 'doc/meta': z.object({ v: z.number() }) } });
    await space.put('doc/meta', { v: 1 } as never);
    expect(await refusal(space.put('doc/meta', 'text' as never))).toMatch(/^INVALID_VALUE/);
    await space.put('doc/body', 'text');
    expect(await refusal(space.put('doc/body', { v: 1 } as never))).toMatch(/^INVALID_VALUE/);
    await (space as unknown as { put(k: string, v: unknown): Promise<unknown> }).put('free', { any: 1 });
    expect((await space.get('free' as never))?.value).toEqual({ any: 1 });
    await r.close();
  });

  it('keeps call order with synchronous validators; an asynchronous validator works for put and is refused by update', async () => {
    const r = await replica();
    const space = r.space('s', { schema: { 'k/*': z.number() } });
    const writes = [1, 2, 3].map((n) => space.put('k/x', n));
    await Promise.all(writes);
    expect((await space.get('k/x'))?.value).toBe(3);

    const slow: StandardSchemaV1<number> = {
      '~standard': {
        version: 1,
        vendor: 'test',
        validate: async (v) => (typeof v === 'number' && v >= 0 ? { value: v } : { issues: [{ message: 'a non-negative number', path: [] }] }),
      },
    };
    const a = r.space('async', { schema: { '*': slow } });
    await a.put('x', 5);
    expect((await a.get('x'))?.value).toBe(5);
    expect(await refusal(a.put('x', -1))).toBe('INVALID_VALUE: "x" in space "async" does not match its schema: a non-negative number');
    expect(await refusal(a.update('x', () => 6))).toMatch(/^INVALID_OPTION/);
    expect((await a.get('x'))?.value).toBe(5);
    await r.close();
  });

  it('a validator that throws (instead of returning issues) refuses the value with INVALID_VALUE too', async () => {
    const r = await replica();
    const broken: StandardSchemaV1 = { '~standard': { version: 1, vendor: 'test', validate: () => { throw new TypeError('boom'); } } };
    const space = r.space('s', { schema: { 'x/*': broken } });
    expect(await refusal(space.put('x/1', 1))).toMatch(/^INVALID_VALUE: the schema of "x\/1" in space "s" threw instead of returning issues: boom/);
    expect(await space.get('x/1')).toBeUndefined();
    await r.close();
  });

  it('refuses a schema entry that is not a validator, and applies a schema given on a later replica.space call', async () => {
    const r = await replica();
    expect(() => r.space('s', { schema: { '*': 42 as never } })).toThrow(expect.objectContaining({ code: 'INVALID_OPTION' }));
    const plain = r.space('t');
    await plain.put('x', 'anything');
    r.space('t', { schema: { '*': z.number() } });
    expect(await refusal(plain.put('x', 'text'))).toMatch(/^INVALID_VALUE/);
    expect((await plain.get('x'))?.value).toBe('anything');
    await r.close();
  });
});
