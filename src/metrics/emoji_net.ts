// The emoji feature network: a small CNN classifier of emoji subcategories (Unicode emoji
// subgroups, e.g. face-smiling, animal-mammal), trained by scripts/emoji/train-emoji-features.ts on
// openly licensed vendor emoji. Its penultimate layer gives the features of FED/KED (Fréchet and
// kernel distances in emoji-feature space), the offline stand-in for Inception's FID/KID on
// 32x32 emoji. One definition serves training and inference.
import { promises as fs } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors, serializeSafetensors } from '../formats/safetensors.js';
import { writeFileAtomic } from '../files/atomic.js';
import { Rng } from '../rng.js';
import { biasAct } from '../ops/bias_act.js';

export interface EmojiNetConfig {
  resolution: number; // Input width and height (inputs of other sizes are resized to it).
  widths: number[]; // Channels of the conv stages (two 3x3 convs each, the second of stride 2).
  featureDim: number; // Width of the penultimate (feature) layer.
  classes: string[]; // Class names: the emoji subcategories, in logit order.
}

export const DEFAULT_EMOJI_NET: Omit<EmojiNetConfig, 'classes'> = { resolution: 32, widths: [32, 64, 128], featureDim: 128 };

/** Parameter names and shapes, in a fixed order: conv{stage}{0|1}.{weight,bias}, fc, out. */
export function emojiNetShapes(c: EmojiNetConfig): [string, number[]][] {
  const shapes: [string, number[]][] = [];
  let cin = 3;
  c.widths.forEach((w, s) => {
    for (let j = 0; j < 2; j++) {
      shapes.push([`conv${s}${j}.weight`, [3, 3, j === 0 ? cin : w, w]], [`conv${s}${j}.bias`, [w]]);
    }
    cin = w;
  });
  shapes.push(['fc.weight', [cin, c.featureDim]], ['fc.bias', [c.featureDim]]);
  shapes.push(['out.weight', [c.featureDim, c.classes.length]], ['out.bias', [c.classes.length]]);
  return shapes;
}

export class EmojiNet {
  readonly params = new Map<string, tf.Variable>();

  /** He-initialized (seeded) unless `weights` are given. */
  constructor(
    readonly config: EmojiNetConfig,
    weights?: Map<string, Float32Array>,
    seed = 0,
  ) {
    const rng = new Rng(`emoji-net-${seed}`);
    for (const [name, shape] of emojiNetShapes(config)) {
      const n = shape.reduce((a, b) => a * b, 1);
      let data = weights?.get(name);
      if (weights && !data) throw new Error(`emoji feature network weights lack ${name}`);
      if (data && data.length !== n) throw new Error(`emoji feature network weight ${name} has ${data.length} values, expected ${n} [${shape}]`);
      if (!data) {
        const fanIn = shape.length === 4 ? shape[0] * shape[1] * shape[2] : shape[0];
        data = name.endsWith('.bias') ? new Float32Array(n) : rng.normalArray(n).map((v) => v * Math.sqrt(2 / fanIn));
      }
      this.params.set(
        name,
        tf.tidy(() => tf.variable(tf.tensor(data!, shape), true, `emoji/${name}`)),
      );
    }
  }

  /** x [N, R, R, 3] in [-1, 1] -> { features [N, featureDim], logits [N, classes] }. */
  apply(x: tf.Tensor4D): { features: tf.Tensor2D; logits: tf.Tensor2D } {
    return tf.tidy(() => {
      const p = (k: string) => this.params.get(k)!;
      let h: tf.Tensor4D = x;
      // Each stage: a 3x3 conv, then a 3x3 conv of stride 2 that halves the resolution; ReLU
      // through the fused bias_act op (its gradient is one native kernel).
      this.config.widths.forEach((_, s) => {
        for (let j = 0; j < 2; j++) {
          const y = tf.conv2d(h, p(`conv${s}${j}.weight`) as tf.Tensor4D, j === 0 ? 1 : 2, 'same');
          h = biasAct(y, p(`conv${s}${j}.bias`), { act: 'relu', gain: 1 }) as tf.Tensor4D;
        }
      });
      const pooled = h.mean([1, 2]) as tf.Tensor2D;
      const features = biasAct(pooled.matMul(p('fc.weight') as tf.Tensor2D), p('fc.bias'), { act: 'relu', gain: 1 }) as tf.Tensor2D;
      const logits = features.matMul(p('out.weight') as tf.Tensor2D).add(p('out.bias')) as tf.Tensor2D;
      return { features, logits };
    });
  }

  /**
   * uint8 HWC RGB images -> the network's input in [-1, 1]; images of another size are resized to
   * its resolution (area averaging for integer factors, bilinear otherwise).
   */
  input(u8: Uint8Array, n: number, h = this.config.resolution, w = this.config.resolution): tf.Tensor4D {
    const r = this.config.resolution;
    if (u8.length !== n * h * w * 3) throw new Error(`emoji feature network: expected ${n} RGB images of ${w}x${h}, got ${u8.length} bytes`);
    return tf.tidy(() => {
      const x = tf.tensor4d(
        Float32Array.from(u8, (v) => v / 127.5 - 1),
        [n, h, w, 3],
      );
      if (h === r && w === r) return x;
      if (h % r === 0 && w % r === 0) return tf.avgPool(x, [h / r, w / r], [h / r, w / r], 'valid') as tf.Tensor4D;
      return tf.image.resizeBilinear(x, [r, r], false, true);
    });
  }

  async save(file: string, meta: Record<string, unknown> = {}, overwrite = false): Promise<void> {
    const tensors = new Map<string, { shape: number[]; data: Float32Array }>();
    for (const [k, v] of this.params) tensors.set(k, { shape: v.shape, data: (await v.data()) as Float32Array });
    await writeFileAtomic(
      file,
      serializeSafetensors(tensors, {
        format: 'stylegan-rlo-emoji-features',
        config: JSON.stringify(this.config),
        ...Object.fromEntries(Object.entries(meta).map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])),
      }),
      { overwrite },
    );
  }

  static async load(file: string): Promise<EmojiNet> {
    await fs.access(file).catch(() => {
      throw new Error(`emoji feature network ${file} not found (it ships in pretrained/; retrain it with npm run train-emoji-features)`);
    });
    const st = await readSafetensors(file);
    if (st.metadata.format !== 'stylegan-rlo-emoji-features' || !st.metadata.config)
      throw new Error(`${file} is not an emoji feature network (no stylegan-rlo-emoji-features metadata)`);
    const config = JSON.parse(st.metadata.config) as EmojiNetConfig;
    return new EmojiNet(config, new Map([...st.tensors].map(([k, t]) => [k, t.data as Float32Array])));
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}
