// Network construction for other configurations (conditional, grayscale, depths, widths,
// architectures), parameter naming and layout round trips, initialization, and leak tests for
// every network entry point.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import { Rng } from '../../src/rng.js';
import { assertNoLeak, testBackend } from '../helpers.js';
import { dLogits, dMainLoss, gMainLoss, plRegLoss, r1RegLoss, synthesizer } from '../../src/losses/phases.js';
import { rooted, logistic } from '../../src/losses/objectives.js';
import { disposeGradients, paramGradients } from '../../src/losses/gradients.js';
import { r1Penalty } from '../../src/losses/regularizers.js';

before(() => testBackend());

const cond = {
  G: {
    z_dim: 8,
    c_dim: 3,
    w_dim: 8,
    img_resolution: 8,
    img_channels: 1,
    mapping_kwargs: { num_layers: 3 },
    synthesis_kwargs: { channel_base: 64, channel_max: 8, conv_clamp: 256 },
  },
  D: {
    c_dim: 3,
    img_resolution: 8,
    img_channels: 1,
    channel_base: 64,
    channel_max: 8,
    mapping_kwargs: { num_layers: 2 },
    epilogue_kwargs: { mbstd_group_size: 2 },
  },
};

describe('networks', () => {
  test('conditional grayscale G/D: shapes, names, num_ws, finite outputs', async () => {
    const rng = new Rng(1);
    const G = new Generator(cond.G, rng);
    const D = new Discriminator(cond.D, rng);
    assert.equal(G.numWs, 4); // b4: conv1; b8: conv0, conv1; + the last block's torgb (upstream num_ws)
    tf.tidy(() => {
      const z = rng.normal([2, 8]);
      const c = tf.oneHot([0, 2], 3).cast('float32');
      const img = G.apply(z, c, { noise_mode: 'random', rng, truncation_psi: 0.7, truncation_cutoff: 2 });
      assert.deepEqual(img.shape, [2, 8, 8, 1]);
      const logits = D.apply(img, c);
      assert.deepEqual(logits.shape, [2, 1]);
      assert.ok(Number.isFinite(logits.sum().dataSync()[0]));
    });
    for (const n of ['mapping.embed.weight', 'mapping.fc2.bias', 'synthesis.b8.conv0.affine.weight', 'synthesis.b8.torgb.weight'])
      assert.ok(G.params.has(n), n);
    for (const n of ['mapping.embed.weight', 'mapping.fc1.weight', 'b8.fromrgb.weight', 'b4.out.weight']) assert.ok(D.params.has(n), n);
    assert.equal((await D.params.read('b4.out.weight')).shape[0], 8); // cmap_dim = channels at 4x4
    G.dispose();
    D.dispose();
  });

  test('num_ws follows upstream for each architecture', () => {
    const base = { z_dim: 4, c_dim: 0, w_dim: 4, img_resolution: 16, img_channels: 3 };
    for (const [arch, n] of [
      ['skip', 6],
      ['orig', 6],
      ['resnet', 6],
    ] as const) {
      const G = new Generator({ ...base, synthesis_kwargs: { channel_base: 64, channel_max: 4, architecture: arch } });
      assert.equal(G.numWs, n, arch);
      tf.tidy(() => assert.deepEqual(G.apply(tf.ones([2, 4]), null, { noise_mode: 'none' }).shape, [2, 16, 16, 3]));
      G.dispose();
    }
    for (const arch of ['skip', 'orig', 'resnet'] as const) {
      const D = new Discriminator({ c_dim: 0, img_resolution: 16, img_channels: 3, channel_base: 64, channel_max: 4, architecture: arch });
      tf.tidy(() => assert.deepEqual(D.apply(tf.ones([4, 16, 16, 3]) as tf.Tensor4D, null).shape, [4, 1]));
      D.dispose();
    }
  });

  test('upstream initialization: affine biases 1, noise strengths 0, weights ~N(0,1)/lr_multiplier', async () => {
    const G = new Generator(
      {
        z_dim: 16,
        c_dim: 0,
        w_dim: 16,
        img_resolution: 8,
        img_channels: 3,
        mapping_kwargs: { num_layers: 2 },
        synthesis_kwargs: { channel_base: 128, channel_max: 16 },
      },
      new Rng(3),
    );
    assert.ok((await G.params.read('synthesis.b8.conv0.affine.bias')).data.every((v) => v === 1));
    assert.equal((await G.params.read('synthesis.b8.conv0.noise_strength')).data[0], 0);
    const w = (await G.params.read('mapping.fc0.weight')).data; // randn / 0.01
    const std = Math.sqrt(w.reduce((a, v) => a + v * v, 0) / w.length);
    assert.ok(std > 80 && std < 120, `mapping weight std ${std}`);
    G.dispose();
  });

  test('readAll/setAll round trip is exact and layouts convert back', async () => {
    const G = new Generator(cond.G, new Rng(5));
    const G2 = new Generator(cond.G);
    G2.params.setAll(await G.params.readAll());
    for (const [k, v] of await G.params.readAll()) assert.deepEqual((await G2.params.read(k)).data, v.data, k);
    assert.throws(
      () => G2.params.set('synthesis.b8.conv0.weight', { shape: [1, 2, 3, 3], data: new Float32Array(18) }),
      /has shape \[1,2,3,3\], this network configuration expects \[8,8,3,3\]/,
    );
    assert.throws(() => G2.params.setAll(new Map([['nope', { shape: [1], data: new Float32Array(1) }]]), { partial: true }), /unexpected parameters.*nope/);
    assert.throws(() => G2.params.setAll(new Map()), /missing parameters/);
    G.dispose();
    G2.dispose();
  });

  test('bad configs fail with the option named', () => {
    assert.throws(() => new Generator({ z_dim: 4, c_dim: 0, w_dim: 4, img_resolution: 12, img_channels: 3 }), /img_resolution must be a power of two, got 12/);
    assert.throws(
      () => new Generator({ z_dim: 4, c_dim: 0, w_dim: 4, img_resolution: 8, img_channels: 3, synthesis_kwargs: { bogus: 1 } as never }),
      /unsupported option 'bogus'/,
    );
    assert.throws(() => new Discriminator({ c_dim: 0, img_resolution: 8, img_channels: 3, architecture: 'unet' as never }), /architecture must be one of/);
  });
});

describe('leak tests: every network and loss entry point', () => {
  test('forward, losses, gradients and regularizers leave no tensors', async () => {
    const rng = new Rng(7);
    const G = new Generator(cond.G, rng);
    const D = new Discriminator(cond.D, rng);
    const c = tf.oneHot([0, 1], 3).cast('float32');
    const z = tf.ones([2, 8]);
    const reals = tf.zeros([2, 8, 8, 1]) as tf.Tensor4D;
    const ws = G.mapZ(z, c);
    // Each entry point tidies internally: calling it leaves exactly its result behind.
    await assertNoLeak('G.apply', () => G.apply(z, c, { noise_mode: 'random', rng }).dispose());
    await assertNoLeak('G.apply truncated', () => G.apply(z, c, { noise_mode: 'const', truncation_psi: 0.5, truncation_cutoff: 1 }).dispose());
    await assertNoLeak('G.mapWithMixing', () => G.mapWithMixing(z, c, rng, 1).dispose());
    await assertNoLeak('G.synthesize', () => G.synthesize(ws, { noise_mode: 'none' }).dispose());
    await assertNoLeak('D.apply', () => D.apply(reals, c).dispose());
    await assertNoLeak('gMainLoss', () => tf.dispose(Object.values(gMainLoss(synthesizer(G, { noise_mode: 'random', rng }), dLogits(D), ws, c, rooted(2)))));
    await assertNoLeak('paramGradients(gMainLoss)', () =>
      disposeGradients(paramGradients(G.params, () => gMainLoss(synthesizer(G, { noise_mode: 'const' }), dLogits(D), G.mapZ(z, c), c, rooted(2)).loss)),
    );
    await assertNoLeak('r1Penalty', () => r1Penalty((x) => D.apply(x, c), reals).dispose());
    await assertNoLeak('paramGradients(dMainLoss)', () =>
      disposeGradients(paramGradients(D.params, () => dMainLoss(dLogits(D), reals, c, reals, c, logistic()).loss)),
    );
    await assertNoLeak('paramGradients(r1RegLoss)', () => disposeGradients(paramGradients(D.params, () => r1RegLoss(dLogits(D), reals, c, 1).loss)));
    await assertNoLeak('paramGradients(plRegLoss)', () =>
      disposeGradients(
        paramGradients(G.params, () => plRegLoss(synthesizer(G, { noise_mode: 'const' }), G.mapZ(z, c), tf.onesLike(reals) as tf.Tensor4D, 0, 0.01, 2).loss),
      ),
    );
    const wAvg = G.mapping.wAvg!.dataSync()[0];
    assert.notEqual(wAvg, 0); // mapWithMixing updated w_avg in training mode
    tf.dispose([c, z, reals, ws]);
    G.dispose();
    D.dispose();
  });
});
