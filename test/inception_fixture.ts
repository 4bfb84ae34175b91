// The shared Inception fixture's closed-form weight generator (shared/reference/inception/README.md).
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import type { NamedArray } from '../src/networks/params.js';
import { FIXTURES } from './helpers.js';

const ref = JSON.parse(readFileSync(path.join(FIXTURES, 'inception', 'inception_io.json'), 'utf8'));

export function fnv1a32(s: string): number {
  let h = 0x811c9dc5;
  for (const b of Buffer.from(s, 'utf8')) h = Math.imul(h ^ b, 0x01000193) >>> 0;
  return h >>> 0;
}
export function fmix32(x0: number): number {
  let x = x0 >>> 0;
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b) >>> 0;
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35) >>> 0;
  x ^= x >>> 16;
  return x >>> 0;
}

/** The fixture's closed-form weights: value = f(key, flat index) (shared/reference/inception/README.md). */
export function fixtureStateDict(): Map<string, NamedArray> {
  const wg = ref.weight_generator;
  const rules = new Map<string, { rule: string; e: number | null }>(wg.entries.map((e: { key: string; rule: string; e: number | null }) => [e.key, e]));
  const out = new Map<string, NamedArray>();
  for (const key of ref.state_dict.keys as string[]) {
    const shape: number[] = ref.state_dict.shapes[key];
    const r = rules.get(key)!;
    if (r.rule === 'zero') continue; // num_batches_tracked (int64), unused
    const n = shape.reduce((a, b) => a * b, 1);
    const h = (fnv1a32(key) + wg.salt) >>> 0;
    const data = new Float32Array(n);
    const scale = r.rule === 'signed' ? 2 ** -r.e! : 0;
    for (let i = 0; i < n; i++) {
      const x = fmix32((Math.imul(i, 0x9e3779b1) + h) >>> 0);
      if (r.rule === 'signed') {
        const K = (x & 1) === 0 ? 0 : (1 + ((x >>> 1) & 7)) * ((x >>> 4) & 1 ? -1 : 1);
        data[i] = K * scale;
      } else {
        data[i] = 0.5 + ((x >>> 8) & 31) / 32;
      }
    }
    out.set(key, { shape, data });
  }
  return out;
}
