// Type tests for typed spaces, checked by `tsc` (npm run typecheck), never run: every `@ts-expect-error`
// line must be an error, so each proves that a wrong key or value type is refused at compile time.
import { z } from 'zod';
import type { GetResult, Replica, Space, TypedSpace } from '../../lib/index.js';

interface Todo {
  title: string;
  done: boolean;
}
type Schema = { 'todo/*': Todo; 'todo/*/tags': string[]; settings: { theme: 'light' | 'dark' }; 'count/*/of/*': number };

export async function typedByTypeOnly(replica: Replica): Promise<void> {
  const space = replica.space<Schema>('team-42');
  const typed: TypedSpace<Schema> = space;
  await typed.put('todo/1', { title: 'milk', done: false });
  await space.put('settings', { theme: 'dark' });
  await space.put('count/a/of/b', 3);
  await space.put('todo/1/tags', ['a']); // matches 'todo/*' too: the union of both types is accepted
  const r = await space.get('todo/1');
  const title: string | undefined = r && !Array.isArray(r.value) ? r.value.title : undefined;
  const s: GetResult<{ theme: 'light' | 'dark' }> | undefined = await space.get('settings');
  void title;
  void s;
  await space.update('count/x/of/y', (n) => (n ?? 0) + 1);
  await space.delete('todo/1');

  // @ts-expect-error a key no pattern matches
  await space.put('nope', 1);
  // @ts-expect-error the wrong value type for the pattern
  await space.put('todo/1', { title: 1, done: false });
  // @ts-expect-error a missing field
  await space.put('todo/2', { title: 'x' });
  // @ts-expect-error an exact key's type: 'blue' is not a theme
  await space.put('settings', { theme: 'blue' });
  // @ts-expect-error a two-star pattern needs its literal middle
  await space.put('count/a/b', 1);
  // @ts-expect-error get of a key outside the schema
  await space.get('other');
  // @ts-expect-error update must return the key's type
  await space.update('settings', () => 42);
  // @ts-expect-error a settings value is not a string
  const wrong: string | undefined = (await space.get('settings'))?.value;
  void wrong;
}

export async function typedByValidators(replica: Replica): Promise<void> {
  const space = replica.space('team-7', { schema: { 'todo/*': z.object({ title: z.string(), done: z.boolean() }), 'n/*': z.number() } });
  await space.put('todo/a', { title: 't', done: true });
  await space.put('n/1', 2);
  // @ts-expect-error the type inferred from the zod schema
  await space.put('n/1', 'two');
  // @ts-expect-error a key outside the validators' patterns
  await space.put('x', 1);
  const done: boolean | undefined = (await space.get('todo/a'))?.value.done;
  void done;
}

export function untouched(replica: Replica): Space {
  // Without a schema, replica.space is the plain Space, any key and value.
  const space: Space = replica.space('plain', { merge: {} });
  void space.put('anything', { any: 'value' });
  return replica.space('plain');
}
