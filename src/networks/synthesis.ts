// Synthesis network ws -> image (upstream SynthesisLayer, ToRGBLayer, SynthesisBlock,
// SynthesisNetwork), NHWC. Always the non-fused modulated convolution (upstream's training path).
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../ops/kernel_names.js';
import { ACTIVATIONS, biasAct } from '../ops/bias_act.js';
import { tidyPair } from '../ops/misc.js';
import { modulatedConv2d } from '../ops/modulated_conv2d.js';
import { type Filter, upsample2d } from '../ops/upfirdn2d.js';
import type { Rng } from '../rng.js';
import { type Architecture, channelsAt, type SynthesisKwargs } from './config.js';
import { Conv2dLayer, FullyConnectedLayer, registerFilter } from './layers.js';
import { initFull, initRandn, type ParamStore } from './params.js';

export type NoiseMode = 'random' | 'const' | 'none';

export interface SynthesisForwardOptions {
  noise_mode?: NoiseMode; // 'random' draws from `rng`, 'const' uses noise_const, 'none' adds nothing.
  rng?: Rng; // Needed for noise_mode 'random'.
}

interface LayerOptions {
  kernel_size: number;
  up: number;
  use_noise: boolean;
  activation: Activation;
  resample_filter: number[];
  conv_clamp: number | null;
}

export class SynthesisLayer {
  readonly affine: FullyConnectedLayer;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly noiseConst: tf.Variable | null;
  readonly noiseStrength: tf.Variable | null;
  readonly filter: Filter;
  readonly padding: number;
  readonly actGain: number;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly inChannels: number,
    readonly outChannels: number,
    wDim: number,
    readonly resolution: number,
    readonly o: LayerOptions,
  ) {
    this.filter = registerFilter(store, `${prefix}.resample_filter`, o.resample_filter);
    this.padding = Math.floor(o.kernel_size / 2);
    this.actGain = ACTIVATIONS[o.activation].defGain;
    this.affine = new FullyConnectedLayer(store, `${prefix}.affine`, wDim, inChannels, { bias_init: 1 });
    const k = o.kernel_size;
    this.weight = store.add({
      name: `${prefix}.weight`,
      shape: [outChannels, inChannels, k, k],
      layout: 'conv',
      trainable: true,
      buffer: false,
      init: initRandn(outChannels * inChannels * k * k),
    });
    if (o.use_noise) {
      this.noiseConst = store.add({
        name: `${prefix}.noise_const`,
        shape: [resolution, resolution],
        layout: 'raw',
        trainable: false,
        buffer: true,
        init: initRandn(resolution * resolution),
      });
      this.noiseStrength = store.add({ name: `${prefix}.noise_strength`, shape: [], layout: 'raw', trainable: true, buffer: false, init: initFull(1, 0) });
    } else {
      this.noiseConst = this.noiseStrength = null;
    }
    this.bias = store.add({ name: `${prefix}.bias`, shape: [outChannels], layout: 'raw', trainable: true, buffer: false, init: initFull(outChannels, 0) });
  }

  apply(x: tf.Tensor4D, w: tf.Tensor2D, opts: SynthesisForwardOptions, gain = 1): tf.Tensor4D {
    const styles = this.affine.apply(w);
    const mode = opts.noise_mode ?? 'random';
    let noise: tf.Tensor | null = null;
    if (this.noiseStrength && mode === 'random') {
      if (!opts.rng) throw new Error("synthesis: noise_mode 'random' needs an rng");
      noise = opts.rng.normal([x.shape[0], this.resolution, this.resolution, 1]).mul(this.noiseStrength);
    } else if (this.noiseStrength && mode === 'const') {
      noise = this.noiseConst!.mul(this.noiseStrength).reshape([1, this.resolution, this.resolution, 1]);
    }
    const y = modulatedConv2d(x, this.weight as tf.Tensor4D, styles, {
      noise,
      up: this.o.up,
      padding: this.padding,
      resampleFilter: this.filter,
      flipWeight: this.o.up === 1,
    });
    const clamp = this.o.conv_clamp !== null ? this.o.conv_clamp * gain : null;
    return biasAct(y, this.bias, { act: this.o.activation, gain: this.actGain * gain, clamp }) as tf.Tensor4D;
  }
}

export class ToRGBLayer {
  readonly affine: FullyConnectedLayer;
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  readonly weightGain: number;

  constructor(
    store: ParamStore,
    prefix: string,
    inChannels: number,
    outChannels: number,
    wDim: number,
    readonly convClamp: number | null,
    kernelSize = 1,
  ) {
    this.affine = new FullyConnectedLayer(store, `${prefix}.affine`, wDim, inChannels, { bias_init: 1 });
    const k = kernelSize;
    this.weight = store.add({
      name: `${prefix}.weight`,
      shape: [outChannels, inChannels, k, k],
      layout: 'conv',
      trainable: true,
      buffer: false,
      init: initRandn(outChannels * inChannels * k * k),
    });
    this.bias = store.add({ name: `${prefix}.bias`, shape: [outChannels], layout: 'raw', trainable: true, buffer: false, init: initFull(outChannels, 0) });
    this.weightGain = 1 / Math.sqrt(inChannels * k * k);
  }

  apply(x: tf.Tensor4D, w: tf.Tensor2D): tf.Tensor4D {
    const styles = this.affine.apply(w).mul(this.weightGain) as tf.Tensor2D;
    const y = modulatedConv2d(x, this.weight as tf.Tensor4D, styles, { demodulate: false });
    return biasAct(y, this.bias, { clamp: this.convClamp }) as tf.Tensor4D;
  }
}

export class SynthesisBlock {
  readonly const: tf.Variable | null = null;
  readonly conv0: SynthesisLayer | null = null;
  readonly conv1: SynthesisLayer;
  readonly torgb: ToRGBLayer | null = null;
  readonly skip: Conv2dLayer | null = null;
  readonly filter: Filter;
  readonly numConv: number;
  readonly numToRGB: number;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly inChannels: number,
    readonly outChannels: number,
    readonly wDim: number,
    readonly resolution: number,
    readonly imgChannels: number,
    readonly isLast: boolean,
    readonly architecture: Architecture,
    s: Required<SynthesisKwargs>,
  ) {
    this.filter = registerFilter(store, `${prefix}.resample_filter`, s.resample_filter);
    const lo: LayerOptions = {
      kernel_size: s.kernel_size,
      up: 1,
      use_noise: s.use_noise,
      activation: s.activation,
      resample_filter: s.resample_filter,
      conv_clamp: s.conv_clamp,
    };
    let numConv = 0;
    if (inChannels === 0) {
      this.const = store.add({
        name: `${prefix}.const`,
        shape: [outChannels, resolution, resolution],
        layout: 'chw',
        trainable: true,
        buffer: false,
        init: initRandn(outChannels * resolution * resolution),
      });
    } else {
      this.conv0 = new SynthesisLayer(store, `${prefix}.conv0`, inChannels, outChannels, wDim, resolution, { ...lo, up: 2 });
      numConv++;
    }
    this.conv1 = new SynthesisLayer(store, `${prefix}.conv1`, outChannels, outChannels, wDim, resolution, lo);
    numConv++;
    this.numConv = numConv;
    let numToRGB = 0;
    if (isLast || architecture === 'skip') {
      this.torgb = new ToRGBLayer(store, `${prefix}.torgb`, outChannels, imgChannels, wDim, s.conv_clamp);
      numToRGB++;
    }
    this.numToRGB = numToRGB;
    if (inChannels !== 0 && architecture === 'resnet') {
      this.skip = new Conv2dLayer(store, `${prefix}.skip`, inChannels, outChannels, 1, { bias: false, up: 2, resample_filter: s.resample_filter });
    }
  }

  /** ws: this block's num_conv + num_torgb latents, each [N, w_dim]. */
  apply(x: tf.Tensor4D | null, img: tf.Tensor4D | null, ws: tf.Tensor2D[], opts: SynthesisForwardOptions): [tf.Tensor4D, tf.Tensor4D | null] {
    return tidyPair(() => this.run(x, img, ws, opts));
  }

  private run(x: tf.Tensor4D | null, img: tf.Tensor4D | null, ws: tf.Tensor2D[], opts: SynthesisForwardOptions): [tf.Tensor4D, tf.Tensor4D | null] {
    let wi = 0;
    const n = ws[0].shape[0];
    let h: tf.Tensor4D;
    if (this.inChannels === 0) {
      h = this.const!.expandDims(0).tile([n, 1, 1, 1]) as tf.Tensor4D;
      h = this.conv1.apply(h, ws[wi++], opts);
    } else if (this.architecture === 'resnet') {
      const y = this.skip!.apply(x!, Math.SQRT1_2);
      h = this.conv0!.apply(x!, ws[wi++], opts);
      h = this.conv1.apply(h, ws[wi++], opts, Math.SQRT1_2);
      h = y.add(h) as tf.Tensor4D;
    } else {
      h = this.conv0!.apply(x!, ws[wi++], opts);
      h = this.conv1.apply(h, ws[wi++], opts);
    }
    let out = img !== null ? upsample2d(img, this.filter) : null;
    if (this.torgb) {
      const y = this.torgb.apply(h, ws[wi++]);
      out = out !== null ? (out.add(y) as tf.Tensor4D) : y;
    }
    return [h, out];
  }
}

export class SynthesisNetwork {
  readonly blocks: SynthesisBlock[] = [];
  readonly blockResolutions: number[] = [];
  readonly numWs: number;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly wDim: number,
    readonly imgResolution: number,
    readonly imgChannels: number,
    readonly s: Required<SynthesisKwargs>,
  ) {
    const log2 = Math.log2(imgResolution);
    for (let i = 2; i <= log2; i++) this.blockResolutions.push(2 ** i);
    const channels = (res: number) => channelsAt(s.channel_base, s.channel_max, res);
    let numWs = 0;
    for (const res of this.blockResolutions) {
      const inC = res > 4 ? channels(res / 2) : 0;
      const isLast = res === imgResolution;
      const block = new SynthesisBlock(store, `${prefix}.b${res}`, inC, channels(res), wDim, res, imgChannels, isLast, s.architecture, s);
      numWs += block.numConv;
      if (isLast) numWs += block.numToRGB;
      this.blocks.push(block);
    }
    this.numWs = numWs;
  }

  /** ws [N, num_ws, w_dim] -> img [N, H, W, C]. */
  apply(ws: tf.Tensor, opts: SynthesisForwardOptions = {}): tf.Tensor4D {
    if (ws.rank !== 3 || ws.shape[1] !== this.numWs || ws.shape[2] !== this.wDim) {
      throw new Error(`synthesis: ws must have shape [N, ${this.numWs}, ${this.wDim}], got [${ws.shape}]`);
    }
    const all = tf.unstack(ws, 1) as tf.Tensor2D[];
    let x: tf.Tensor4D | null = null;
    let img: tf.Tensor4D | null = null;
    let wIdx = 0;
    for (const block of this.blocks) {
      // Each block's ToRGB shares its latent with the next block's first conv (upstream narrow()).
      const bws = all.slice(wIdx, wIdx + block.numConv + block.numToRGB);
      [x, img] = block.apply(x, img, bws, opts);
      wIdx += block.numConv;
    }
    return img!;
  }
}
