// One seeded random stream for every draw (seedrandom's alea, whose state can be saved).
import seedrandom from 'seedrandom';
import * as tf from '@tensorflow/tfjs';

export type RngState = object;

export class Rng {
  private prng: ReturnType<typeof seedrandom.alea> & { state(): RngState };

  constructor(seed: number | string, state?: RngState) {
    // alea with state: true so that resume continues the exact stream.
    const make = seedrandom.alea as unknown as (seed: string, opts: { state: boolean | RngState }) => Rng['prng'];
    this.prng = state ? make('', { state }) : make(String(seed), { state: true });
  }

  /** Uniform in [0, 1). */
  next(): number {
    return this.prng.double();
  }

  /** Uniform integer in [lo, hi). */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.next() * (hi - lo));
  }

  /** A seed for tfjs random ops: never 0 (tfjs treats 0 as unseeded). */
  tfSeed(): number {
    return 1 + Math.floor(this.next() * 2147483646);
  }

  /** Standard normal tensor drawn from this stream. */
  normal(shape: number[]): tf.Tensor {
    return tf.randomNormal(shape, 0, 1, 'float32', this.tfSeed());
  }

  /** Standard normal floats (Box-Muller) drawn from this stream. */
  normalArray(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const u = 1 - this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      out[i] = r * Math.cos(2 * Math.PI * v);
      if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * v);
    }
    return out;
  }

  /** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Int32Array {
    const p = Int32Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [p[i], p[j]] = [p[j], p[i]];
    }
    return p;
  }

  state(): RngState {
    return this.prng.state();
  }
}
