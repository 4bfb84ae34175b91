// Helpers shared by the network-pickle readers: pickled values as plain JSON-like values, errors
// that name the file, and the nesting limit.
import { PyObject } from './pickle.js';
import { NdArray } from './numpy.js';

// Module trees deeper than this are not networks (StyleGAN2's is 4 deep); a crafted file could
// otherwise nest until the call stack runs out.
export const MAX_MODULE_DEPTH = 32;

/** Pickled options as plain JSON-like values; nesting beyond `maxDepth` (or a cycle) is refused. */
export function toPlain(v: unknown, maxDepth = 32): unknown {
  if (maxDepth < 0) throw new Error('options nested too deeply (or containing themselves): not a network config');
  const sub = (x: unknown) => toPlain(x, maxDepth - 1);
  if (v instanceof PyObject && v.size === 0 && v.list.length === 0 && v.state === undefined) return { __object__: v.className };
  if (v instanceof Map) return Object.fromEntries([...v.entries()].map(([k, x]) => [String(k), sub(x)]));
  if (Array.isArray(v)) return v.map(sub);
  if (typeof v === 'bigint') return Number(v);
  if (v instanceof Set) return [...v].map(sub);
  if (v instanceof NdArray) return Array.from(v.float32());
  return v;
}

/** Runs `f`, prefixing any error with the file (and network) it concerns. */
export function named<T>(where: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    throw new Error(`${where}: ${(e as Error).message}`);
  }
}
