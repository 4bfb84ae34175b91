// Training statistics accumulated on the device (sum, sum of squares, count per name) and read
// back once per tick: no per-step synchronization.
import * as tf from '@tensorflow/tfjs';

interface Acc {
  sum: tf.Tensor;
  sq: tf.Tensor;
  n: number;
}

export interface StatSummary {
  mean: number;
  std: number;
  num: number;
}

export class Stats {
  private acc = new Map<string, Acc>();

  /** Adds the values of `t` (any shape) under `name`; `t` is not consumed. */
  report(name: string, t: tf.Tensor): void {
    const prev = this.acc.get(name);
    const [s, q] = tf.tidy(() => {
      const x = t.cast('float32');
      return [x.sum(), x.square().sum()];
    });
    // Kept: report() is called inside tidy scopes (and gradient tapes) that must not free these.
    if (prev) {
      const ns = tf.keep(prev.sum.add(s)),
        nq = tf.keep(prev.sq.add(q));
      tf.dispose([prev.sum, prev.sq, s, q]);
      this.acc.set(name, { sum: ns, sq: nq, n: prev.n + t.size });
    } else {
      this.acc.set(name, { sum: tf.keep(s), sq: tf.keep(q), n: t.size });
    }
  }

  /** Reads every statistic (one synchronization) and resets. */
  async collect(): Promise<Record<string, StatSummary>> {
    const out: Record<string, StatSummary> = {};
    const entries = [...this.acc.entries()];
    let vals: Float32Array | Int32Array | Uint8Array = new Float32Array();
    if (entries.length) {
      const stacked = tf.stack(entries.flatMap(([, a]) => [a.sum, a.sq]));
      vals = await stacked.data();
      stacked.dispose();
    }
    entries.forEach(([k, a], i) => {
      const mean = vals[2 * i] / a.n;
      const varc = Math.max(vals[2 * i + 1] / a.n - mean * mean, 0);
      out[k] = { mean, std: Math.sqrt(varc), num: a.n };
    });
    this.reset();
    return out;
  }

  reset(): void {
    for (const a of this.acc.values()) tf.dispose([a.sum, a.sq]);
    this.acc.clear();
  }
}
