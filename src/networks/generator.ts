// Generator = mapping + synthesis (upstream Generator), with style mixing as the training loss
// does it (upstream StyleGAN2Loss.run_G).
import * as tf from '@tensorflow/tfjs';
import type { Rng } from '../rng.js';
import { type GeneratorConfig, type ResolvedGeneratorConfig, resolveGeneratorConfig } from './config.js';
import { type MappingForwardOptions, MappingNetwork } from './mapping.js';
import { ParamStore } from './params.js';
import { type SynthesisForwardOptions, SynthesisNetwork } from './synthesis.js';

export class Generator {
  readonly config: ResolvedGeneratorConfig;
  readonly params: ParamStore;
  readonly synthesis: SynthesisNetwork;
  readonly mapping: MappingNetwork;
  readonly numWs: number;

  /** Builds the network; parameters are initialized as upstream does from `rng` (zeros without one). */
  constructor(config: GeneratorConfig, rng: Rng | null = null) {
    this.config = resolveGeneratorConfig(config);
    const c = this.config;
    this.params = new ParamStore(rng);
    // Registration order follows upstream's state dict: synthesis first, then mapping.
    this.synthesis = new SynthesisNetwork(this.params, 'synthesis', c.w_dim, c.img_resolution, c.img_channels, c.synthesis_kwargs);
    this.numWs = this.synthesis.numWs;
    this.mapping = new MappingNetwork(this.params, 'mapping', c.z_dim, c.c_dim, c.w_dim, this.numWs, c.mapping_kwargs);
  }

  get zDim(): number {
    return this.config.z_dim;
  }
  get cDim(): number {
    return this.config.c_dim;
  }
  get wDim(): number {
    return this.config.w_dim;
  }
  get imgResolution(): number {
    return this.config.img_resolution;
  }
  get imgChannels(): number {
    return this.config.img_channels;
  }

  /** z [N, z_dim], c [N, c_dim] or null -> ws [N, num_ws, w_dim]. */
  mapZ(z: tf.Tensor | null, c: tf.Tensor | null, opts: MappingForwardOptions = {}): tf.Tensor3D {
    return tf.tidy(() => this.mapping.apply(z, c, opts) as tf.Tensor3D);
  }

  /** ws [N, num_ws, w_dim] -> images [N, H, W, C] (roughly in [-1, 1]). */
  synthesize(ws: tf.Tensor, opts: SynthesisForwardOptions = {}): tf.Tensor4D {
    return tf.tidy(() => this.synthesis.apply(ws, opts));
  }

  /** z -> images (upstream Generator.forward). */
  apply(z: tf.Tensor | null, c: tf.Tensor | null, opts: MappingForwardOptions & SynthesisForwardOptions = {}): tf.Tensor4D {
    return tf.tidy(() => this.synthesize(this.mapZ(z, c, opts), opts));
  }

  /**
   * Training-mode mapping with style mixing (upstream run_G): with probability `prob`, the ws from
   * a random cutoff on come from a second z. Updates w_avg as upstream's training mode does.
   */
  mapWithMixing(z: tf.Tensor, c: tf.Tensor | null, rng: Rng, prob: number, updateWAvg = true): tf.Tensor3D {
    return tf.tidy(() => this.mixedWs(z, c, rng, prob, updateWAvg));
  }

  private mixedWs(z: tf.Tensor, c: tf.Tensor | null, rng: Rng, prob: number, updateWAvg: boolean): tf.Tensor3D {
    let ws = this.mapZ(z, c, { update_w_avg: updateWAvg });
    if (prob > 0) {
      const cutoffDraw = rng.int(1, this.numWs);
      const cutoff = rng.next() < prob ? cutoffDraw : this.numWs;
      const z2 = rng.normal(z.shape);
      if (cutoff < this.numWs) {
        const ws2 = this.mapZ(z2, c, { update_w_avg: false });
        const n = z.shape[0];
        ws = tf.concat([ws.slice([0, 0, 0], [n, cutoff, this.wDim]), ws2.slice([0, cutoff, 0], [n, this.numWs - cutoff, this.wDim])], 1);
      }
    }
    return ws;
  }

  dispose(): void {
    this.params.dispose();
  }
}
