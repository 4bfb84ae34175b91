// Tensor leaks at the package root's entry points that the other files do not check, each called as
// a user calls it: outside any tf.tidy (a tidy would dispose what an op forgot and hide the leak),
// its outputs disposed by the caller. Elsewhere: the networks and losses (networks.test), generate
// and styleMix (generate.test), AugmentPipe (augment.test), Inception features (inception.test),
// the training step (finetune.test), latent walks (interpolate.test), Adam (adam.test).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as lib from '../../src/index.js';
import { assertNoLeak, testBackend } from '../helpers.js';
import { imageFolder, tempDir, tiny16Checkpoint } from '../train_helpers.js';
import { fixtureStateDict } from '../inception_fixture.js';

const f4 = lib.setupFilter([1, 3, 3, 1]);
const sym = lib.setupFilter([0.2, 0.5, 0.8, 1, 1, 0.8, 0.5, 0.2]); // >= 8 taps: the separable path

/** fn's output (a tensor or several) disposed, so only what fn itself kept can remain. */
const disposing = (fn: () => tf.Tensor | tf.Tensor[]) => () => {
  tf.dispose(fn());
};

let dir: string, ckpt: string, data: string;
before(async () => {
  await testBackend();
  dir = await tempDir('leaks');
  ckpt = await tiny16Checkpoint(dir);
  data = await imageFolder(path.join(dir, 'data'), 4);
});

describe('ops outside tf.tidy', () => {
  test('forward passes', async () => {
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 4], 0, 1, 'float32', 2) as tf.Tensor4D;
    const styles = tf.randomNormal([2, 3], 1, 0.1, 'float32', 3) as tf.Tensor2D;
    const b = tf.zeros([3]);
    await assertNoLeak(
      'upfirdn2d',
      disposing(() => lib.upfirdn2d(x, f4, { up: 2, down: 1, padding: [2, 1, 2, 1] })),
    );
    await assertNoLeak(
      'upfirdn2d (separable filter)',
      disposing(() => lib.upfirdn2d(x, sym, { up: 2, padding: 3 })),
    );
    await assertNoLeak(
      'upsample2d',
      disposing(() => lib.upsample2d(x, f4)),
    );
    await assertNoLeak(
      'downsample2d',
      disposing(() => lib.downsample2d(x, f4)),
    );
    await assertNoLeak(
      'biasAct',
      disposing(() => lib.biasAct(x, b, { act: 'lrelu', clamp: 0.5 })),
    );
    await assertNoLeak(
      'conv2dResample up',
      disposing(() => lib.conv2dResample(x, w, { f: f4, up: 2, padding: 1 })),
    );
    await assertNoLeak(
      'conv2dResample down',
      disposing(() => lib.conv2dResample(x, w, { f: f4, down: 2, padding: 1 })),
    );
    await assertNoLeak(
      'modulatedConv2d',
      disposing(() => lib.modulatedConv2d(x, w, styles, { padding: 1 })),
    );
    await assertNoLeak(
      'modulatedConv2d up, no demodulation',
      disposing(() => lib.modulatedConv2d(x, w, styles, { up: 2, padding: 1, resampleFilter: f4, demodulate: false })),
    );
    await assertNoLeak(
      'normalize2ndMoment',
      disposing(() => lib.normalize2ndMoment(styles)),
    );
    await assertNoLeak(
      'minibatchStd',
      disposing(() => lib.minibatchStd(x, 2)),
    );
    tf.dispose([x, w, styles, b]);
  });

  test('first and second derivatives (as R1 takes them)', async () => {
    const x = tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 4) as tf.Tensor4D;
    const w = tf.randomNormal([3, 3, 3, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const styles = tf.randomNormal([2, 3], 1, 0.1, 'float32', 6) as tf.Tensor2D;
    const b = tf.zeros([3]);
    const ops: [string, (t: tf.Tensor4D) => tf.Tensor][] = [
      ['upfirdn2d', (t) => lib.upfirdn2d(lib.upsample2d(t, sym), f4, { down: 2, padding: 1 })],
      ['biasAct', (t) => lib.biasAct(t, b, { act: 'lrelu', clamp: 0.5 })],
      ['conv2dResample', (t) => lib.conv2dResample(t, w, { f: f4, down: 2, padding: 1 })],
      ['modulatedConv2d', (t) => lib.modulatedConv2d(t, w, styles, { padding: 1 })],
      ['minibatchStd', (t) => lib.minibatchStd(t, 2)],
    ];
    for (const [name, op] of ops) {
      await assertNoLeak(
        `grad ${name}`,
        disposing(() =>
          tf.grad((t: tf.Tensor) =>
            op(t as tf.Tensor4D)
              .square()
              .sum(),
          )(x),
        ),
      );
      // The gradient of a gradient norm, as R1 and the path-length penalty use it.
      const gradNorm = (t: tf.Tensor) =>
        tf
          .grad((u: tf.Tensor) =>
            op(u as tf.Tensor4D)
              .square()
              .sum(),
          )(t)
          .square()
          .sum();
      await assertNoLeak(
        `grad of grad ${name}`,
        disposing(() => tf.grad(gradNorm)(x)),
      );
    }
    tf.dispose([x, w, styles, b]);
  });
});

describe('network files outside tf.tidy', () => {
  test('loadNetwork, buildGenerator/buildDiscriminator (disposed), describeNetwork', async () => {
    await assertNoLeak('loadNetwork + describeNetwork', async () => {
      lib.describeNetwork(await lib.loadNetwork(ckpt));
    });
    await assertNoLeak('buildGenerator + buildDiscriminator', async () => {
      const net = await lib.loadNetwork(ckpt);
      const G = lib.buildGenerator(net),
        D = lib.buildDiscriminator(net);
      assert.ok(tf.memory().numTensors > 0);
      G.dispose();
      D.dispose();
    });
  });

  test('convertNetwork and saveCheckpoint', async () => {
    await assertNoLeak('convertNetwork', () => lib.convertNetwork(ckpt, path.join(dir, 'converted.safetensors'), false, ['G_ema']));
    const net = await lib.loadNetwork(ckpt);
    const G = lib.buildGenerator(net),
      D = lib.buildDiscriminator(net);
    await assertNoLeak('saveCheckpoint', () =>
      lib.saveCheckpoint(
        path.join(dir, 'saved.safetensors'),
        { format: 'stylegan-rlo', version: 1, G_kwargs: net.G_kwargs, D_kwargs: net.D_kwargs },
        { G: G.params, D: D.params },
      ),
    );
    G.dispose();
    D.dispose();
  });
});

describe('metrics outside tf.tidy', () => {
  test('feature networks, folder and generator features, distances, compareRuns', async () => {
    const net = await lib.loadNetwork(ckpt);
    const G = lib.buildGenerator(net);
    const emoji = lib.defaultEmojiFeaturesPath();
    await assertNoLeak('InceptionV3 (disposed)', () => new lib.InceptionV3(fixtureStateDict()).dispose());
    await assertNoLeak('loadFeatureNetwork (disposed)', async () => (await lib.loadFeatureNetwork({ kind: 'emoji', emoji })).dispose());
    const features = await lib.loadFeatureNetwork({ kind: 'emoji', emoji });
    const held = tf.memory().numTensors;
    let real: Awaited<ReturnType<typeof lib.folderFeatures>> | undefined;
    let gen: typeof real;
    await assertNoLeak('folderFeatures', async () => {
      real = await lib.folderFeatures(features, data, { cacheDir: null });
    });
    await assertNoLeak('generatorFeatures', async () => {
      gen = await lib.generatorFeatures(features, G, { num: 6, seed: 0 }, { batch: 4 });
    });
    await assertNoLeak('distances', () => lib.distances(real!, gen!, features, true));
    const run = await lib.finetune(
      { data, network: ckpt, outdir: path.join(dir, 'runs'), loss: 'rooted', batch: 4, kimg: 0.004, tick: 0.004, snap: 1, grid: [2, 2], backend: 'cpu' },
      { log: () => {} },
    );
    await assertNoLeak('compareRuns', () => lib.compareRuns([run.runDir], features, { num: 4, seed: 0, cacheDir: null, includeStart: true, log: () => {} }));
    assert.equal(tf.memory().numTensors, held);
    features.dispose();
    G.dispose();
  });

  test('finetune, from its start to its return', async () => {
    const start = tf.memory().numTensors;
    const r = await lib.finetune(
      { data, network: ckpt, outdir: path.join(dir, 'runs2'), loss: 'logistic', batch: 4, kimg: 0.008, tick: 0.004, snap: 1, grid: [2, 2], backend: 'cpu' },
      { log: () => {} },
    );
    assert.ok((await fs.readdir(r.runDir)).some((f) => f.startsWith('network-snapshot-')));
    assert.equal(tf.memory().numTensors, start, 'finetune left tensors behind');
    // A branch that widens the networks (the widened state dicts are built from fresh networks).
    await lib.finetune(
      { data, resume: r.runDir, runDir: path.join(dir, 'wider'), kimg: 0.012, cfg: { cbase: 512, cmax: 48 }, backend: 'cpu' },
      { log: () => {} },
    );
    assert.ok((await fs.readdir(path.join(dir, 'wider'))).some((f) => f.startsWith('network-snapshot-')));
    assert.equal(tf.memory().numTensors, start, 'a widening branch left tensors behind');
  });
});
