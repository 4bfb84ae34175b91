// The package root exports the documented library API (README "Library API"), and the README's
// flow works through it: networks built from upstream kwargs, parameters by upstream name,
// mapping, synthesis, discriminator, a phase loss and its gradients in upstream names.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as lib from '../../src/index.js';

before(async () => {
  await lib.initBackend('cpu', false);
});

test('the README flow runs through the package root', async () => {
  const {
    Generator,
    Discriminator,
    Rng,
    rooted,
    logistic,
    gMainLoss,
    dMainLoss,
    r1RegLoss,
    plRegLoss,
    dLogits,
    synthesizer,
    paramGradients,
    gradientsToUpstream,
  } = lib;
  const rng = new Rng(0);
  const G = new Generator(
    {
      z_dim: 32,
      c_dim: 0,
      w_dim: 32,
      img_resolution: 16,
      img_channels: 3,
      mapping_kwargs: { num_layers: 2 },
      synthesis_kwargs: { channel_base: 256, channel_max: 32, conv_clamp: 256 },
    },
    rng,
  );
  const D = new Discriminator({ c_dim: 0, img_resolution: 16, img_channels: 3, channel_base: 256, channel_max: 32, conv_clamp: 256 }, rng);
  const before = tf.memory().numTensors;
  // Parameters by upstream name and layout: conv [O, I, kh, kw].
  const w = await G.params.read('synthesis.b16.conv0.weight');
  assert.deepEqual(w.shape, [16, 32, 3, 3]); // 16 channels at 16 px (channel_base 256 / 16), 32 in
  G.params.set('synthesis.b16.conv0.weight', w);
  assert.deepEqual(Array.from((await G.params.read('synthesis.b16.conv0.weight')).data), Array.from(w.data), 'set/read round trip');
  const z = rng.normal([4, 32]);
  const ws = G.mapZ(z, null, { truncation_psi: 0.7 });
  assert.deepEqual(ws.shape, [4, G.numWs, 32]);
  const img = G.synthesize(ws, { noise_mode: 'const' });
  assert.deepEqual(img.shape, [4, 16, 16, 3]);
  const logits = D.apply(img, null);
  assert.deepEqual(logits.shape, [4, 1]);
  // The objectives differ exactly as the paper says: k(1+e^-l)^(1/k) against softplus(-l).
  const l = tf.tensor2d([[0.5]]);
  const g = (o: ReturnType<typeof rooted>) =>
    tf.tidy(
      () =>
        gMainLoss(
          () => img.slice(0, 1) as tf.Tensor4D,
          () => l,
          ws.slice(0, 1) as tf.Tensor3D,
          null,
          o,
        ).loss.arraySync() as number,
    );
  assert.ok(Math.abs(g(rooted(2)) - 2 * Math.sqrt(1 + Math.exp(-0.5))) < 1e-5);
  assert.ok(Math.abs(g(logistic()) - Math.log1p(Math.exp(-0.5))) < 1e-6);
  // A phase loss's gradients w.r.t. every trainable parameter, in upstream names and layouts.
  const grads = paramGradients(G.params, () => gMainLoss(synthesizer(G, { noise_mode: 'const' }), dLogits(D), G.mapZ(z, null), null, rooted(2)).loss);
  assert.ok(Number.isFinite(grads.value.arraySync() as number));
  const up = await gradientsToUpstream(G.params, grads.grads);
  assert.deepEqual(up.get('synthesis.b16.conv0.weight')?.shape, [16, 32, 3, 3]);
  assert.ok(
    up.get('synthesis.b16.conv0.weight')!.data.some((v) => v !== 0),
    'a nonzero gradient',
  );
  lib.disposeGradients(grads);
  const plNoise = tf.onesLike(img) as tf.Tensor4D;
  for (const r of [
    dMainLoss(dLogits(D), img, null, img, null, logistic()),
    r1RegLoss(dLogits(D), img, null, 1),
    plRegLoss(synthesizer(G, { noise_mode: 'const' }), ws, plNoise, 0, 0.01, 2),
  ]) {
    assert.ok(Number.isFinite(r.loss.arraySync() as number));
    tf.dispose(Object.values(r));
  }
  tf.dispose([z, ws, img, logits, l, plNoise]);
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  G.dispose();
  D.dispose();
});

test('the package root exports every name the README documents', () => {
  const documented = [
    'loadNetwork',
    'buildGenerator',
    'buildDiscriminator',
    'saveCheckpoint',
    'finetune',
    'Trainer',
    'AugmentPipe',
    'generateImages',
    'styleMix',
    'InceptionV3',
    'loadInceptionWeights',
    'folderFeatures',
    'generatorFeatures',
    'distances',
    'compareRuns',
    'fetchNetwork',
    'loadFeatureNetwork',
    'EmojiNet',
    'aggregate',
    'welch',
    'bootstrapDiffCI',
    'adamUpdate',
    'cacheDir',
    'OptionError',
  ];
  for (const n of documented) assert.equal(typeof (lib as Record<string, unknown>)[n], 'function', n);
});

test("an option's error names it by key, and words itself with the CLI's flags or any names", async () => {
  const outdir = await fs.mkdtemp(path.join(os.tmpdir(), 'rlo-option-error-'));
  const err = await lib
    .finetune({ data: 'samples', network: 'pretrained/emoji32.safetensors', outdir, batch: 4, batchGpu: 3, kimg: 0.001 })
    .catch((e: unknown) => e);
  assert.deepEqual(await fs.readdir(outdir), [], 'refused before a run directory was made');
  await fs.rm(outdir, { recursive: true });
  assert.ok(err instanceof lib.OptionError, String(err));
  assert.equal(err.message, 'options.batchGpu 3 is invalid: must divide options.batch 4');
  assert.equal(
    err.words((k) => `--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`),
    '--batch-gpu 3 is invalid: must divide --batch 4',
  );
  assert.equal(
    err.words((k) => `<${k}>`),
    '<batchGpu> 3 is invalid: must divide <batch> 4',
  );
});
