// Discriminator (upstream DiscriminatorBlock, DiscriminatorEpilogue, Discriminator), NHWC.
import * as tf from '@tensorflow/tfjs';
import type { Activation } from '../ops/kernel_names.js';
import { minibatchStd, tidyPair } from '../ops/misc.js';
import { downsample2d, type Filter } from '../ops/upfirdn2d.js';
import { type Architecture, channelsAt, type DiscriminatorConfig, type ResolvedDiscriminatorConfig, resolveDiscriminatorConfig } from './config.js';
import { Conv2dLayer, FullyConnectedLayer, registerFilter } from './layers.js';
import { MappingNetwork } from './mapping.js';
import { ParamStore } from './params.js';

export class DiscriminatorBlock {
  readonly fromrgb: Conv2dLayer | null = null;
  readonly conv0: Conv2dLayer;
  readonly conv1: Conv2dLayer;
  readonly skip: Conv2dLayer | null = null;
  readonly filter: Filter;
  readonly numLayers: number;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly inChannels: number,
    tmpChannels: number,
    outChannels: number,
    readonly resolution: number,
    imgChannels: number,
    firstLayerIdx: number,
    readonly architecture: Architecture,
    activation: Activation,
    resampleFilter: number[],
    convClamp: number | null,
    freezeLayers: number,
  ) {
    this.filter = registerFilter(store, `${prefix}.resample_filter`, resampleFilter);
    let n = 0;
    const trainable = () => firstLayerIdx + n++ >= freezeLayers; // Freeze-D: early layers become buffers.
    if (inChannels === 0 || architecture === 'skip') {
      this.fromrgb = new Conv2dLayer(store, `${prefix}.fromrgb`, imgChannels, tmpChannels, 1, { activation, trainable: trainable(), conv_clamp: convClamp });
    }
    this.conv0 = new Conv2dLayer(store, `${prefix}.conv0`, tmpChannels, tmpChannels, 3, { activation, trainable: trainable(), conv_clamp: convClamp });
    this.conv1 = new Conv2dLayer(store, `${prefix}.conv1`, tmpChannels, outChannels, 3, {
      activation,
      down: 2,
      trainable: trainable(),
      resample_filter: resampleFilter,
      conv_clamp: convClamp,
    });
    if (architecture === 'resnet') {
      this.skip = new Conv2dLayer(store, `${prefix}.skip`, tmpChannels, outChannels, 1, {
        bias: false,
        down: 2,
        trainable: trainable(),
        resample_filter: resampleFilter,
      });
    }
    this.numLayers = n;
  }

  apply(x: tf.Tensor4D | null, img: tf.Tensor4D | null): [tf.Tensor4D, tf.Tensor4D | null] {
    return tidyPair(() => this.run(x, img));
  }

  private run(x: tf.Tensor4D | null, img: tf.Tensor4D | null): [tf.Tensor4D, tf.Tensor4D | null] {
    let h = x;
    let im = img;
    if (this.inChannels === 0 || this.architecture === 'skip') {
      const y = this.fromrgb!.apply(im!);
      h = h !== null ? (h.add(y) as tf.Tensor4D) : y;
      im = this.architecture === 'skip' ? downsample2d(im!, this.filter) : null;
    }
    if (this.architecture === 'resnet') {
      const y = this.skip!.apply(h!, Math.SQRT1_2);
      h = this.conv0.apply(h!);
      h = this.conv1.apply(h, Math.SQRT1_2);
      h = y.add(h) as tf.Tensor4D;
    } else {
      h = this.conv0.apply(h!);
      h = this.conv1.apply(h);
    }
    return [h!, im];
  }
}

export class DiscriminatorEpilogue {
  readonly fromrgb: Conv2dLayer | null = null;
  readonly conv: Conv2dLayer;
  readonly fc: FullyConnectedLayer;
  readonly out: FullyConnectedLayer;

  constructor(
    store: ParamStore,
    prefix: string,
    readonly inChannels: number,
    readonly cmapDim: number,
    readonly resolution: number,
    imgChannels: number,
    readonly architecture: Architecture,
    readonly mbstdGroupSize: number | null,
    readonly mbstdNumChannels: number,
    activation: Activation,
    convClamp: number | null,
  ) {
    if (architecture === 'skip') this.fromrgb = new Conv2dLayer(store, `${prefix}.fromrgb`, imgChannels, inChannels, 1, { activation });
    this.conv = new Conv2dLayer(store, `${prefix}.conv`, inChannels + mbstdNumChannels, inChannels, 3, { activation, conv_clamp: convClamp });
    this.fc = new FullyConnectedLayer(store, `${prefix}.fc`, inChannels * resolution * resolution, inChannels, {
      activation,
      chw: [inChannels, resolution, resolution],
    });
    this.out = new FullyConnectedLayer(store, `${prefix}.out`, inChannels, cmapDim === 0 ? 1 : cmapDim);
  }

  apply(x: tf.Tensor4D, img: tf.Tensor4D | null, cmap: tf.Tensor | null): tf.Tensor2D {
    let h = x;
    if (this.architecture === 'skip') h = h.add(this.fromrgb!.apply(img!));
    if (this.mbstdNumChannels > 0) h = minibatchStd(h, this.mbstdGroupSize, this.mbstdNumChannels);
    h = this.conv.apply(h);
    let y = this.fc.apply(h.reshape([h.shape[0], -1]));
    y = this.out.apply(y);
    if (this.cmapDim > 0)
      y = y
        .mul(cmap!)
        .sum(1, true)
        .mul(1 / Math.sqrt(this.cmapDim)) as tf.Tensor2D;
    return y;
  }
}

export class Discriminator {
  readonly config: ResolvedDiscriminatorConfig;
  readonly params: ParamStore;
  readonly blocks: DiscriminatorBlock[] = [];
  readonly mapping: MappingNetwork | null = null;
  readonly b4: DiscriminatorEpilogue;

  constructor(config: DiscriminatorConfig, rng: import('../rng.js').Rng | null = null) {
    this.config = resolveDiscriminatorConfig(config);
    const c = this.config;
    this.params = new ParamStore(rng);
    const log2 = Math.log2(c.img_resolution);
    const resolutions: number[] = [];
    for (let i = log2; i > 2; i--) resolutions.push(2 ** i);
    const channels = (res: number) => channelsAt(c.channel_base, c.channel_max, res);
    const cmapDim = c.c_dim === 0 ? 0 : (c.cmap_dim ?? channels(4));
    const bk = c.block_kwargs;
    let layerIdx = 0;
    for (const res of resolutions) {
      const inC = res < c.img_resolution ? channels(res) : 0;
      const block = new DiscriminatorBlock(
        this.params,
        `b${res}`,
        inC,
        channels(res),
        channels(res / 2),
        res,
        c.img_channels,
        layerIdx,
        c.architecture,
        bk.activation,
        bk.resample_filter,
        c.conv_clamp,
        bk.freeze_layers,
      );
      layerIdx += block.numLayers;
      this.blocks.push(block);
    }
    if (c.c_dim > 0) {
      this.mapping = new MappingNetwork(this.params, 'mapping', 0, c.c_dim, cmapDim, null, { ...c.mapping_kwargs, w_avg_beta: null });
    }
    const e = c.epilogue_kwargs;
    this.b4 = new DiscriminatorEpilogue(
      this.params,
      'b4',
      channels(4),
      cmapDim,
      4,
      c.img_channels,
      c.architecture,
      e.mbstd_group_size,
      e.mbstd_num_channels,
      e.activation,
      c.conv_clamp,
    );
  }

  get cDim(): number {
    return this.config.c_dim;
  }
  get imgResolution(): number {
    return this.config.img_resolution;
  }
  get imgChannels(): number {
    return this.config.img_channels;
  }

  /** img [N, H, W, C], c [N, c_dim] or null -> logits [N, 1]. */
  apply(img: tf.Tensor4D, c: tf.Tensor | null): tf.Tensor2D {
    const r = this.config.img_resolution;
    if (img.rank !== 4 || img.shape[1] !== r || img.shape[2] !== r || img.shape[3] !== this.config.img_channels) {
      throw new Error(`discriminator: images must have shape [N, ${r}, ${r}, ${this.config.img_channels}] (NHWC), got [${img.shape}]`);
    }
    return tf.tidy(() => {
      let x: tf.Tensor4D | null = null;
      let im: tf.Tensor4D | null = img;
      for (const block of this.blocks) [x, im] = block.apply(x, im);
      const cmap = this.mapping ? this.mapping.apply(null, c) : null;
      return this.b4.apply(x!, im, cmap);
    });
  }

  dispose(): void {
    this.params.dispose();
  }
}
