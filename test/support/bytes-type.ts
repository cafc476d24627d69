/**
 * What a test value type over raw bytes shares (test types whose deltas do something particular: appending, bloating):
 * its name, the check that a value is its TypedBytes, encode and decode as the bytes themselves, and a merge that keeps
 * the first value. A test spreads it into its ValueType and adds what it tests.
 */
import { typedBytes, TypedBytes, type ValueType } from '../../lib/typed.js';

export function bytesType(name: string): Pick<ValueType<TypedBytes>, 'name' | 'is' | 'encode' | 'decode' | 'merge'> {
  return {
    name,
    is: (v): v is TypedBytes => v instanceof TypedBytes && v.typeName === name,
    encode: (v) => v,
    decode: (p) => typedBytes(name, p),
    merge: (vs) => vs[0]!,
  };
}
