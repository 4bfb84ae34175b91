// Widening (networks/widen.ts): the wider networks compute what the narrow ones did, for every
// architecture; existing weights and Adam moments are carried with their fan-in factor; the new
// channels can learn; refusals are one line.
import type { LoadedNetwork } from '../../src/records.js';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import type { Architecture, DiscriminatorConfig, GeneratorConfig } from '../../src/networks/config.js';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import type { NamedArray, ParamStore } from '../../src/networks/params.js';
import { widenedKwargs } from '../../src/networks/widen.js';
import { buildDiscriminator, buildGenerator, widenLoadedNetwork } from '../../src/io/network.js';
import type { StTensor } from '../../src/records.js';
import { Rng } from '../../src/rng.js';
import { assertNoLeak, testBackend } from '../helpers.js';

before(() => testBackend());

const kwargs = (arch: Architecture, cond = false): { G: GeneratorConfig; D: DiscriminatorConfig } => ({
  G: {
    z_dim: 16,
    c_dim: cond ? 3 : 0,
    w_dim: 16,
    img_resolution: 16,
    img_channels: 3,
    mapping_kwargs: { num_layers: 2 },
    synthesis_kwargs: { channel_base: 128, channel_max: 12, conv_clamp: 256, architecture: arch },
  },
  D: {
    c_dim: cond ? 3 : 0,
    img_resolution: 16,
    img_channels: 3,
    channel_base: 128,
    channel_max: 12,
    architecture: arch,
    epilogue_kwargs: { mbstd_group_size: 4 },
  },
});
const WIDER = { channelBase: 256, channelMax: 20 }; // 8 -> 16 channels at 16x16, 12 -> 20 at 8x8 and 4x4

/** Every value random (biases, noise strengths, const), so that no term of the forward pass is trivially zero. */
async function randomize(store: ParamStore, rng: Rng): Promise<Map<string, NamedArray>> {
  for (const [k, v] of await store.readAll()) {
    if (k.endsWith('resample_filter') || k.endsWith('w_avg')) continue;
    const data = rng.normalArray(v.data.length);
    if (k.endsWith('noise_strength') || k.endsWith('.bias')) for (let i = 0; i < data.length; i++) data[i] *= 0.3;
    store.set(k, { shape: v.shape, data });
  }
  return await store.readAll();
}

/** A trained-looking network: random G, G_ema and D, with random Adam moments. */
async function network(cfg: { G: GeneratorConfig; D: DiscriminatorConfig }, seed: string): Promise<LoadedNetwork> {
  const rng = new Rng(seed);
  const G = new Generator(cfg.G),
    Ge = new Generator(cfg.G),
    D = new Discriminator(cfg.D);
  const sd = { G: await randomize(G.params, rng), G_ema: await randomize(Ge.params, rng), D: await randomize(D.params, rng) };
  const tensors = new Map<string, StTensor>();
  for (const [prefix, store] of [
    ['opt_G', G.params],
    ['opt_D', D.params],
  ] as const) {
    for (const [k, spec] of store.specs) {
      if (!spec.trainable) continue;
      const n = spec.shape.reduce((a, b) => a * b, 1);
      tensors.set(`${prefix}/m/${k}`, { dtype: 'F32', shape: spec.shape, data: rng.normalArray(n) });
      tensors.set(`${prefix}/v/${k}`, { dtype: 'F32', shape: spec.shape, data: rng.normalArray(n).map((x) => x * x) });
    }
    tensors.set(`${prefix}/t`, { dtype: 'F32', shape: [], data: Float32Array.of(1234) });
  }
  G.dispose();
  Ge.dispose();
  D.dispose();
  return { format: 'checkpoint', source: 'test', G_kwargs: cfg.G, D_kwargs: cfg.D, ...sd, tensors };
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

describe('widen', () => {
  for (const arch of ['orig', 'skip', 'resnet'] as Architecture[]) {
    test(`${arch}: wider G, G_ema and D compute what the narrow ones did`, async () => {
      const cfg = kwargs(arch, arch === 'resnet');
      const net = await network(cfg, `widen-${arch}`);
      const wide = await widenLoadedNetwork(net, widenedKwargs(cfg.G, cfg.D, WIDER), new Rng('fresh'));
      assert.equal(wide.G!.get('synthesis.b8.conv1.weight')!.shape.join(), '20,20,3,3');
      assert.equal(wide.D!.get('b16.conv0.weight')!.shape.join(), '16,16,3,3');
      const z = tf.randomNormal([8, 16], 0, 1, 'float32', 3);
      const c = arch === 'resnet' ? tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3) : null;
      for (const which of ['G', 'G_ema'] as const) {
        const [g0, g1] = [buildGenerator(net, which), buildGenerator(wide, which)];
        for (const noise_mode of ['const', 'random'] as const) {
          const [a, b] = [g0.apply(z, c, { noise_mode, rng: new Rng('noise') }), g1.apply(z, c, { noise_mode, rng: new Rng('noise') })];
          const scale = tf.tidy(() => a.abs().max().dataSync()[0]);
          assert.ok(scale > 0.1, `${which} makes a non-trivial image (${scale})`);
          assert.ok(maxAbsDiff(a, b) < 1e-5 * Math.max(1, scale), `${arch} ${which} ${noise_mode}: images differ by ${maxAbsDiff(a, b)}`);
          tf.dispose([a, b]);
        }
        g0.dispose();
        g1.dispose();
      }
      const [d0, d1] = [buildDiscriminator(net), buildDiscriminator(wide)];
      const img = tf.randomNormal([8, 16, 16, 3], 0, 1, 'float32', 4) as tf.Tensor4D;
      const [y0, y1] = [d0.apply(img, c), d1.apply(img, c)];
      // Only the minibatch-std feature moves, by 1e-4 x (added / old channels at 4x4) before its weights
      // (measured: 1e-5 of 0.24; without its rescaling 6e-3).
      const scale = tf.tidy(() => y0.abs().max().dataSync()[0]);
      assert.ok(scale > 1e-3, `D's logits are non-trivial (${scale})`);
      assert.ok(maxAbsDiff(y0, y1) < 1e-4 * Math.max(1, scale), `${arch} D: logits differ by ${maxAbsDiff(y0, y1)} (of ${scale})`);
      tf.dispose([z, img, y0, y1]);
      c?.dispose();
      d0.dispose();
      d1.dispose();
    });
  }

  test('existing entries and Adam moments carry the fan-in factor; new entries: G silent outgoing, D silent incoming', async () => {
    const cfg = kwargs('resnet');
    const net = await network(cfg, 'widen-moments');
    const wide = await widenLoadedNetwork(net, widenedKwargs(cfg.G, cfg.D, WIDER), new Rng('fresh'));
    const at = (a: NamedArray, o: number, i: number) => a.data[(o * a.shape[1] + i) * 9 + 4]; // [O, I, 3, 3], centre tap
    // D b8.conv0: 12 -> 20 inputs, 3x3: existing weights x sqrt(20/12), m / that, v / its square.
    const f = Math.sqrt(20 / 12);
    const [w0, w1] = [net.D!.get('b8.conv0.weight')!, wide.D!.get('b8.conv0.weight')!];
    const t = (k: string) => ({ shape: net.tensors!.get(k)!.shape, data: net.tensors!.get(k)!.data as Float32Array });
    const T = (k: string) => ({ shape: wide.tensors!.get(k)!.shape, data: wide.tensors!.get(k)!.data as Float32Array });
    assert.ok(Math.abs(at(w1, 5, 7) - at(w0, 5, 7) * f) < 1e-5);
    assert.ok(Math.abs(at(T('opt_D/m/b8.conv0.weight'), 5, 7) - at(t('opt_D/m/b8.conv0.weight'), 5, 7) / f) < 1e-5);
    assert.ok(Math.abs(at(T('opt_D/v/b8.conv0.weight'), 5, 7) - at(t('opt_D/v/b8.conv0.weight'), 5, 7) / f ** 2) < 1e-5);
    assert.equal(at(w1, 15, 3), 0, 'D: a new channel listens to nothing');
    assert.notEqual(at(w1, 3, 15), 0, 'D: ... and speaks with fresh weights');
    assert.equal(wide.D!.get('b8.conv0.bias')!.data[15], 0);
    assert.equal(at(T('opt_D/m/b8.conv0.weight'), 3, 15), 0, 'new moments start at zero');
    assert.equal(T('opt_D/t').data[0], 1234);
    // G conv weights are demodulated: kept as they were; new channels listen, and are not heard.
    const [g0, g1] = [net.G!.get('synthesis.b8.conv1.weight')!, wide.G!.get('synthesis.b8.conv1.weight')!];
    assert.equal(at(g1, 5, 7), at(g0, 5, 7));
    assert.equal(at(g1, 3, 15), 0);
    assert.notEqual(at(g1, 15, 3), 0);
    // ... and G and G_ema start their new channels alike.
    assert.equal(at(wide.G_ema!.get('synthesis.b8.conv1.weight')!, 15, 3), at(g1, 15, 3));
    // ToRGB's gain is 1/sqrt(fan-in): rescaled.
    const [r0, r1] = [net.G!.get('synthesis.b16.torgb.weight')!, wide.G!.get('synthesis.b16.torgb.weight')!];
    assert.ok(Math.abs(r1.data[1 * 16 + 2] - r0.data[1 * 8 + 2] * Math.sqrt(16 / 8)) < 1e-5);
    // The minibatch-std input of the epilogue conv moves behind the new channels, scaled by 20/12 as well.
    const [e0, e1] = [net.D!.get('b4.conv.weight')!, wide.D!.get('b4.conv.weight')!];
    assert.equal(e1.shape.join(), '20,21,3,3');
    assert.ok(Math.abs(at(e1, 2, 20) - at(e0, 2, 12) * Math.sqrt(21 / 13) * (20 / 12)) < 1e-5);
  });

  test('the new channels learn: their weights get gradients, in G and in D', async () => {
    const cfg = kwargs('skip');
    const net = await network(cfg, 'widen-grad');
    const wide = await widenLoadedNetwork(net, widenedKwargs(cfg.G, cfg.D, WIDER), new Rng('fresh'));
    const G = buildGenerator(wide, 'G'),
      D = buildDiscriminator(wide);
    const z = tf.randomNormal([8, 16], 0, 1, 'float32', 5);
    const loss = () => D.apply(G.apply(z, null, { noise_mode: 'const' }), null).sum() as tf.Scalar;
    const { value, grads } = tf.variableGrads(loss, [...G.params.trainableVariables(), ...D.params.trainableVariables()]);
    const gradOf = (store: ParamStore, name: string) => grads[store.get(name).name];
    const slice = (g: tf.Tensor, begin: number[], size: number[]) => tf.tidy(() => g.slice(begin, size).abs().max().dataSync()[0]);
    // Internal conv layout [kh, kw, I, O]. G: the silent outgoing weights (from new inputs 12..19) of b16.conv0.
    assert.ok(slice(gradOf(G.params, 'synthesis.b16.conv0.weight'), [0, 0, 12, 0], [3, 3, 8, 16]) > 0, 'G: outgoing weights of new channels learn');
    // D: the silent incoming weights (to new outputs 12..19) of b8.conv0.
    assert.ok(slice(gradOf(D.params, 'b8.conv0.weight'), [0, 0, 0, 12], [3, 3, 20, 8]) > 0, 'D: incoming weights of new channels learn');
    tf.dispose([value, ...Object.values(grads)]);
    tf.dispose(z);
    G.dispose();
    D.dispose();
  });

  test('refusals name the problem', () => {
    const { G, D } = kwargs('skip');
    assert.throws(
      () => widenedKwargs(G, D, { channelBase: 128, channelMax: 8 }),
      /would give 8 channels at 4x4, fewer than the network's 12; widening only adds channels/,
    );
    assert.throws(() => widenedKwargs(G, D, { channelBase: 128, channelMax: 12 }), /give the network the channels it already has; nothing to widen/);
    assert.throws(() => widenedKwargs(G, { ...D, block_kwargs: { freeze_layers: 2 } }, WIDER), /2 frozen \(Freeze-D\) layers/);
    assert.throws(() => widenedKwargs(G, { ...D, epilogue_kwargs: { mbstd_num_channels: 2 } }, WIDER), /minibatch-std has 2 channel groups/);
    assert.throws(() => widenedKwargs(G, D, { channelBase: 128, channelMax: 99999 }), /channel_max must be an integer from 1 to 8192/);
    // A conditional D keeps its label embedding's size.
    const c = kwargs('skip', true);
    assert.equal(widenedKwargs(c.G, c.D, WIDER).D_kwargs!.cmap_dim, 12);
  });

  test('widenLoadedNetwork leaks no tensors', async () => {
    const cfg = kwargs('skip');
    const net = await network(cfg, 'widen-leak');
    await assertNoLeak('widenLoadedNetwork', async () => {
      await widenLoadedNetwork(net, widenedKwargs(cfg.G, cfg.D, WIDER), new Rng('fresh'));
    });
  });
});
