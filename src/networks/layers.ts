// Equalized-learning-rate layers (upstream FullyConnectedLayer, Conv2dLayer): weights are stored
// unscaled, as upstream stores them, and the gains are applied at run time.
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../ops/kernel_names.js';
import { ACTIVATIONS, biasAct } from '../ops/bias_act.js';
import { conv2dResample } from '../ops/conv2d_resample.js';
import { type Filter, setupFilter } from '../ops/upfirdn2d.js';
import { initFull, initRandn, initValues, type ParamStore } from './params.js';

export interface FullyConnectedOptions {
  bias?: boolean; // Additive bias before the activation (default true).
  activation?: Activation; // Default 'linear'.
  lr_multiplier?: number; // Learning-rate multiplier (default 1).
  bias_init?: number; // Initial bias value (default 0).
  chw?: [number, number, number]; // The input is a flattened NHWC map of this (C, H, W): upstream flattens NCHW.
}

export class FullyConnectedLayer {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly weightGain: number;
  readonly biasGain: number;
  readonly activation: Activation;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: FullyConnectedOptions = {},
  ) {
    const lr = opts.lr_multiplier ?? 1;
    this.activation = opts.activation ?? 'linear';
    this.weightGain = lr / Math.sqrt(inFeatures);
    this.biasGain = lr;
    this.weight = store.add({
      name: `${prefix}.weight`,
      shape: [outFeatures, inFeatures],
      layout: opts.chw ? 'fc_chw' : 'fc',
      chw: opts.chw,
      trainable: true,
      buffer: false,
      init: initRandn(outFeatures * inFeatures, 1 / lr),
    });
    this.bias =
      (opts.bias ?? true)
        ? store.add({
            name: `${prefix}.bias`,
            shape: [outFeatures],
            layout: 'raw',
            trainable: true,
            buffer: false,
            init: initFull(outFeatures, opts.bias_init ?? 0),
          })
        : null;
  }

  /** x [N, in] -> [N, out]. */
  apply(x: tf.Tensor): tf.Tensor2D {
    const w = this.weight.mul(this.weightGain) as tf.Tensor2D;
    const b = this.bias === null ? null : this.biasGain !== 1 ? this.bias.mul(this.biasGain) : this.bias;
    return biasAct(tf.matMul(x as tf.Tensor2D, w), b, { act: this.activation }) as tf.Tensor2D;
  }
}

export interface Conv2dLayerOptions {
  bias?: boolean; // Default true.
  activation?: Activation; // Default 'linear'.
  up?: number; // Integer upsampling factor.
  down?: number; // Integer downsampling factor.
  resample_filter?: number[]; // Low-pass filter taps (default [1,3,3,1]).
  conv_clamp?: number | null; // Clamp the output to +-X.
  trainable?: boolean; // false = the weights are buffers (Freeze-D).
}

export class Conv2dLayer {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | null;
  readonly filter: Filter;
  readonly up: number;
  readonly down: number;
  readonly padding: number;
  readonly weightGain: number;
  readonly actGain: number;
  readonly activation: Activation;
  readonly convClamp: number | null;

  constructor(store: ParamStore, prefix: string, inChannels: number, outChannels: number, kernelSize: number, opts: Conv2dLayerOptions = {}) {
    const trainable = opts.trainable ?? true;
    this.activation = opts.activation ?? 'linear';
    this.up = opts.up ?? 1;
    this.down = opts.down ?? 1;
    this.convClamp = opts.conv_clamp ?? null;
    this.filter = registerFilter(store, `${prefix}.resample_filter`, opts.resample_filter ?? [1, 3, 3, 1]);
    this.padding = Math.floor(kernelSize / 2);
    this.weightGain = 1 / Math.sqrt(inChannels * kernelSize * kernelSize);
    this.actGain = ACTIVATIONS[this.activation].defGain;
    this.weight = store.add({
      name: `${prefix}.weight`,
      shape: [outChannels, inChannels, kernelSize, kernelSize],
      layout: 'conv',
      trainable,
      buffer: !trainable,
      init: initRandn(outChannels * inChannels * kernelSize * kernelSize),
    });
    this.bias =
      (opts.bias ?? true)
        ? store.add({ name: `${prefix}.bias`, shape: [outChannels], layout: 'raw', trainable, buffer: !trainable, init: initFull(outChannels, 0) })
        : null;
  }

  /** x [N, H, W, in] -> [N, H', W', out]. */
  apply(x: tf.Tensor4D, gain = 1): tf.Tensor4D {
    const w = this.weight.mul(this.weightGain) as tf.Tensor4D;
    const y = conv2dResample(x, w, { f: this.filter, up: this.up, down: this.down, padding: this.padding, flipWeight: this.up === 1 });
    return biasAct(y, this.bias, {
      act: this.activation,
      gain: this.actGain * gain,
      clamp: this.convClamp !== null ? this.convClamp * gain : null,
    }) as tf.Tensor4D;
  }
}

/** Registers the `resample_filter` buffer that upstream keeps in the state dict, and returns the filter. */
export function registerFilter(store: ParamStore, name: string, taps: number[]): Filter {
  const f = setupFilter(taps);
  if (taps.length >= 8) {
    // Upstream keeps filters of 8+ taps separable: the buffer holds the normalized 1-D taps.
    const s = taps.reduce((a, b) => a + b, 0);
    store.add({ name, shape: [taps.length], layout: 'raw', trainable: false, buffer: true, init: initValues(Float32Array.from(taps, (t) => t / s)) });
  } else {
    store.add({ name, shape: [f.fh, f.fw], layout: 'raw', trainable: false, buffer: true, init: initValues(f.data) });
  }
  return f;
}
