// A draw source for tests: serves recorded draws (normals, uniforms, integers, each a stream in
// call order) through the Rng interface, so that our trainer consumes the exact numbers upstream
// drew. Every request must find its draws: running out, or an integer outside its range, throws.
import * as tf from '@tensorflow/tfjs';
import { Rng } from '../src/rng.js';

export class ReplayRng extends Rng {
  private pos = { normal: 0, uniform: 0, int: 0 };

  constructor(private readonly streams: { normal: Float32Array; uniform: Float32Array; int: Float32Array }) {
    super(0);
  }

  private take(kind: 'normal' | 'uniform' | 'int', n: number): Float32Array {
    const s = this.streams[kind],
      p = this.pos[kind];
    if (p + n > s.length) throw new Error(`replay: ${kind} draws exhausted (${s.length} recorded, asked for ${n} more at ${p})`);
    this.pos[kind] = p + n;
    return s.subarray(p, p + n);
  }

  /** How many draws of each kind were consumed. */
  consumed(): { normal: number; uniform: number; int: number } {
    return { ...this.pos };
  }

  override next(): number {
    return this.take('uniform', 1)[0];
  }

  override int(lo: number, hi: number): number {
    const v = this.take('int', 1)[0];
    if (!(v >= lo && v < hi)) throw new Error(`replay: recorded integer ${v} is outside [${lo}, ${hi})`);
    return v;
  }

  override normal(shape: number[]): tf.Tensor {
    return tf.tensor(
      this.take(
        'normal',
        shape.reduce((a, b) => a * b, 1),
      ).slice(),
      shape,
    );
  }

  override normalArray(n: number): Float32Array {
    return this.take('normal', n).slice();
  }

  override tfSeed(): number {
    throw new Error('replay: a tfjs seed was asked for; every training draw must come from the stream');
  }
}
