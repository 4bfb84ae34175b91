// Mapping network z (+ c) -> w (upstream MappingNetwork).
import * as tf from '@tensorflow/tfjs';
import { normalize2ndMoment } from '../ops/misc.js';
import { type MappingKwargs, resolveMappingKwargs } from './config.js';
import { FullyConnectedLayer } from './layers.js';
import { initFull, type ParamStore } from './params.js';

export interface MappingForwardOptions {
  truncation_psi?: number; // Lerp towards w_avg: 1 = no truncation.
  truncation_cutoff?: number | null; // Truncate only the first N ws, null = all.
  update_w_avg?: boolean; // Training mode: track the moving average of w (beta w_avg_beta).
}

export class MappingNetwork {
  readonly embed: FullyConnectedLayer | null;
  readonly layers: FullyConnectedLayer[] = [];
  readonly wAvg: tf.Variable | null;
  readonly cfg: Required<MappingKwargs>;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly zDim: number,
    readonly cDim: number,
    readonly wDim: number,
    readonly numWs: number | null,
    kwargs: MappingKwargs = {},
  ) {
    this.cfg = resolveMappingKwargs(kwargs);
    const embedFeatures = cDim === 0 ? 0 : (this.cfg.embed_features ?? wDim);
    const layerFeatures = this.cfg.layer_features ?? wDim;
    const features = [zDim + embedFeatures, ...Array(this.cfg.num_layers - 1).fill(layerFeatures), wDim];
    const p = prefix ? `${prefix}.` : '';
    this.embed = cDim > 0 ? new FullyConnectedLayer(store, `${p}embed`, cDim, embedFeatures) : null;
    for (let i = 0; i < this.cfg.num_layers; i++) {
      this.layers.push(
        new FullyConnectedLayer(store, `${p}fc${i}`, features[i], features[i + 1], {
          activation: this.cfg.activation,
          lr_multiplier: this.cfg.lr_multiplier,
        }),
      );
    }
    this.wAvg =
      numWs !== null && this.cfg.w_avg_beta !== null
        ? store.add({ name: `${p}w_avg`, shape: [wDim], layout: 'raw', trainable: false, buffer: true, init: initFull(wDim, 0) })
        : null;
  }

  /** z [N, z_dim], c [N, c_dim] -> ws [N, num_ws, w_dim] (or [N, w_dim] when num_ws is null). */
  apply(z: tf.Tensor | null, c: tf.Tensor | null, opts: MappingForwardOptions = {}): tf.Tensor {
    let x: tf.Tensor | null = null;
    if (this.zDim > 0) {
      if (z?.rank !== 2 || z.shape[1] !== this.zDim) throw new Error(`mapping: z must have shape [N, ${this.zDim}], got ${z ? `[${z.shape}]` : 'nothing'}`);
      x = normalize2ndMoment(z);
    }
    if (this.cDim > 0) {
      if (c?.rank !== 2 || c.shape[1] !== this.cDim) throw new Error(`mapping: c must have shape [N, ${this.cDim}], got ${c ? `[${c.shape}]` : 'nothing'}`);
      const y = normalize2ndMoment(this.embed!.apply(c));
      x = x !== null ? tf.concat([x, y], 1) : y;
    }
    for (const layer of this.layers) x = layer.apply(x!);
    const w = x!;

    if (opts.update_w_avg && this.wAvg !== null) {
      const beta = this.cfg.w_avg_beta!;
      // w_avg <- lerp(mean(w), w_avg, beta), outside of any gradient (upstream uses x.detach()).
      const next = tf.tidy(() => {
        const m = w.mean(0);
        return m.add(this.wAvg!.sub(m).mul(beta));
      });
      this.wAvg.assign(next);
      next.dispose();
    }
    if (this.numWs === null) return w;

    let ws = w.expandDims(1).tile([1, this.numWs, 1]);
    const psi = opts.truncation_psi ?? 1;
    if (psi !== 1) {
      if (this.wAvg === null) throw new Error('mapping: truncation needs w_avg, which this network does not track (w_avg_beta is null)');
      const cutoff = opts.truncation_cutoff ?? null;
      const avg = this.wAvg.reshape([1, 1, this.wDim]);
      const trunc = avg.add(ws.sub(avg).mul(psi)); // torch lerp(w_avg, x, psi)
      if (cutoff === null || cutoff >= this.numWs) {
        ws = trunc;
      } else {
        const n = ws.shape[0];
        ws = tf.concat([trunc.slice([0, 0, 0], [n, cutoff, this.wDim]), ws.slice([0, cutoff, 0], [n, this.numWs - cutoff, this.wDim])], 1);
      }
    }
    return ws;
  }
}
