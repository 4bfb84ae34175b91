// Feature networks for Fréchet/kernel distances: Inception-v3 (FID/KID, weights supplied by the
// user) or the bundled emoji network (FED/KED: the same distances in emoji-feature space). The
// metric code sees only this interface; the names it reports come from here, so that values from
// the emoji network are never labelled FID.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { decodeImage } from '../data/images.js';
import { type FilePath, imageSource } from '../files/inputs.js';
import { EmojiNet } from './emoji_net.js';
import { type FidProtocol, imageFeatures, InceptionV3, toRgb } from './inception.js';
import { loadInceptionWeights } from './weights.js';
import { OptionError } from '../files/option_error.js';

export const FEATURE_KINDS = ['inception', 'emoji'] as const;
export type FeatureKind = (typeof FEATURE_KINDS)[number];

export interface FeatureNetwork {
  readonly kind: FeatureKind;
  readonly dim: number;
  /** 'FID' / 'KID' for Inception, 'FED' / 'KED' for the emoji network. */
  readonly distanceName: string;
  readonly kernelName: string;
  /** Covariance normalization of the Fréchet distance: 1/N (0) or 1/(N-1) (1). */
  readonly ddof: 0 | 1;
  /** What the values depend on besides the images (network, weights, preprocessing): cache key and records. */
  readonly id: string;
  /** Reads one image file as the network wants it: RGB uint8 HWC and its size. */
  readImage(file: FilePath): Promise<{ px: Uint8Array; w: number; h: number }>;
  /** Features [n, dim] of uint8 HWC images (1 or 3 channels) of one size. */
  features(u8: Uint8Array, n: number, h: number, w: number, c: number): Promise<Float32Array>;
  dispose(): void;
}

/** The emoji feature network that ships with the toolkit. */
export function defaultEmojiFeaturesPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'pretrained', 'emoji-features.safetensors');
}

/** Decodes an image file to RGB u8 at its own size, as pytorch-fid's convert('RGB') does (alpha dropped). */
async function readRgbAsIs(file: FilePath): Promise<{ px: Uint8Array; w: number; h: number }> {
  const { data, info } = await sharp(await imageSource(file), { failOn: 'error' })
    .rotate()
    .removeAlpha()
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  const px = new Uint8Array(data.buffer, data.byteOffset, data.length);
  return { px: info.channels === 1 ? toRgb(px, 1, info.height, info.width, 1) : px, w: info.width, h: info.height };
}

export function inceptionFeatureNetwork(net: InceptionV3, protocol: FidProtocol): FeatureNetwork {
  return {
    kind: 'inception',
    dim: 2048,
    distanceName: 'FID',
    kernelName: 'KID',
    ddof: protocol === 'nvidia' ? 0 : 1,
    id: `inception|${protocol}`,
    readImage: readRgbAsIs,
    features: (u8, n, h, w, c) => imageFeatures(net, u8, n, h, w, c, protocol),
    dispose: () => net.dispose(),
  };
}

/**
 * The emoji network: files are read as the training data is (EXIF, alpha onto white, center crop,
 * lanczos3 to 32x32); images of another size are resized to it with area averaging.
 */
export function emojiFeatureNetwork(net: EmojiNet, weightsId: string): FeatureNetwork {
  const r = net.config.resolution;
  return {
    kind: 'emoji',
    dim: net.config.featureDim,
    distanceName: 'FED',
    kernelName: 'KED',
    ddof: 1,
    id: `emoji|${weightsId}`,
    readImage: async (file) => ({ px: await decodeImage(file, { resolution: r, channels: 3 }), w: r, h: r }),
    features: async (u8, n, h, w, c) => {
      const rgb = toRgb(u8, n, h, w, c);
      const f = tf.tidy(() => net.apply(net.input(rgb, n, h, w)).features);
      const out = (await f.data()) as Float32Array;
      f.dispose();
      return out;
    },
    dispose: () => net.dispose(),
  };
}

export interface FeatureNetworkOptions {
  kind: FeatureKind;
  protocol?: FidProtocol; // Inception only (default nvidia).
  inception?: string | null; // Inception weights (default: the cached pytorch-fid file).
  emoji?: string | null; // Emoji network weights (default: pretrained/emoji-features.safetensors).
}

/** Loads the feature network a metric asks for. */
export async function loadFeatureNetwork(o: FeatureNetworkOptions): Promise<FeatureNetwork> {
  if (o.kind === 'inception') return inceptionFeatureNetwork(new InceptionV3(await loadInceptionWeights(o.inception ?? null)), o.protocol ?? 'nvidia');
  if (o.kind === 'emoji') {
    const file = o.emoji ?? defaultEmojiFeaturesPath();
    const net = await EmojiNet.load(file);
    // Cached features and recorded values are keyed by the weights' content.
    const id = createHash('sha256')
      .update(await fs.readFile(file))
      .digest('hex')
      .slice(0, 16);
    return emojiFeatureNetwork(net, id);
  }
  throw new OptionError((n) => `${n('features')} ${String(o.kind)}: choose one of ${FEATURE_KINDS.join(', ')}`);
}
