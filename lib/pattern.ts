/**
 * Key patterns: `*` matches any run of characters, `/` included; everything else matches itself.
 * When several patterns match a key, the most specific wins: an exact key first, then the pattern with
 * the most literal characters, then the one registered first.
 */
export interface Pattern<T> {
  readonly source: string;
  readonly test: (key: string) => boolean;
  readonly literal: number;
  readonly value: T;
}

export function compilePattern(source: string): (key: string) => boolean {
  if (!source.includes('*')) return (key) => key === source;
  const parts = source.split('*');
  if (parts.length === 2 && parts[1] === '') {
    const prefix = parts[0]!;
    return (key) => key.startsWith(prefix);
  }
  const re = new RegExp('^' + parts.map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
  return (key) => re.test(key);
}

export function patternTable<T>(entries: Record<string, T> | undefined): Pattern<T>[] {
  if (!entries) return [];
  return Object.entries(entries)
    .map(([source, value]) => ({
      source,
      test: compilePattern(source),
      literal: source.includes('*') ? source.replace(/\*/g, '').length : Infinity,
      value,
    }))
    .sort((a, b) => b.literal - a.literal);
}

export function lookupPattern<T>(table: readonly Pattern<T>[], key: string): T | undefined {
  for (const p of table) if (p.test(key)) return p.value;
  return undefined;
}
