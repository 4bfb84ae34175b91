// The webgpu backend (the npm package `webgpu`, Dawn, under tfjs' webgpu backend): on a machine
// without a GPU it runs on SwiftShader, Debian chromium's CPU Vulkan driver, which is how CI tests
// it. Here: the adapter report; the device errors that tfjs leaves silent fail loudly (a planted
// one fails a whole command in one line); each tfjs-webgpu kernel found wrong for project code has
// its workaround tested against the failure it avoids; generate equals cpu; a training iteration
// leaves no tensors and no GPU memory behind. (The tiny16 and training-loop parity suites run on
// webgpu too: test/unit/parity.test.ts and training_loop.test.ts.) Skipped with the reason where
// webgpu cannot start; CI installs what it needs, and a test makes sure it ran there.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import * as tf from '@tensorflow/tfjs';
import { activeBackend, initBackend } from '../../src/backend.js';
import { insertZeros, setupFilter, upfirdn2d } from '../../src/ops/upfirdn2d.js';
import { ADD_N_GROUP, sumAll } from '../../src/ops/misc.js';
import { releaseWebGpu } from '../../src/webgpu/device.js';
import { cliWith, tinyRunFlags } from '../cli_helper.js';
import { tempDir, tinyTrainingFixture } from '../train_helpers.js';
import { webgpuUnavailable } from '../helpers.js';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import { Trainer } from '../../src/train/trainer.js';
import { AugmentPipe } from '../../src/train/augment.js';
import { UPSTREAM_CONSTANTS } from '../../src/train/defaults.js';
import { rooted } from '../../src/losses/objectives.js';
import { Rng } from '../../src/rng.js';
import { biasAct } from '../../src/ops/bias_act.js';
import { adamUpdate } from '../../src/ops/adam_update.js';
import { ADAM_UPDATE_KERNEL, BIAS_ACT_GRAD_KERNEL, BIAS_ACT_KERNEL, UPFIRDN2D_KERNEL } from '../../src/ops/kernel_names.js';

const unavailable = await webgpuUnavailable();
after(releaseWebGpu);

test('webgpu starts where CI runs the suite (libvulkan1 and SwiftShader installed by .ci/run)', { skip: process.env.CI ? false : 'outside CI' }, () => {
  assert.equal(unavailable, null, `webgpu did not start in CI: ${unavailable}`);
});

/** Runs `f` on webgpu and on cpu (tfjs' own kernels) and returns both results' values. */
async function onBoth(f: () => tf.Tensor): Promise<{ gpu: Float32Array; cpu: Float32Array }> {
  const out: Float32Array[] = [];
  for (const b of ['webgpu', 'cpu-js']) {
    await tf.setBackend(b);
    const t = f();
    out.push((await t.data()) as Float32Array);
    t.dispose();
  }
  await tf.setBackend('webgpu');
  return { gpu: out[0], cpu: out[1] };
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};

describe('webgpu backend', { skip: unavailable ?? false }, () => {
  before(async () => {
    await initBackend('webgpu', false);
  });

  test('the backend report names the adapter, and says when it is software', () => {
    const b = activeBackend()!;
    assert.equal(b.name, 'webgpu');
    assert.match(b.description, /^webgpu \(.+\)$/);
    if (/swiftshader/i.test(b.description)) assert.match(b.description, /software/);
  });

  test('a device error is never silent: the read of a failed kernel rejects, naming the GPU program', async () => {
    // tfjs' webgpu pad of a rank-5 tensor builds a shader that does not compile; without the
    // device listener its result would read as zeros.
    const x = tf.ones([1, 2, 2, 1, 1]);
    const p = tf.pad(x, [
      [0, 0],
      [0, 1],
      [0, 0],
      [0, 1],
      [0, 0],
    ]);
    await assert.rejects(p.data(), /^Error: webgpu: a GPU command failed in the PadProgram GPU kernel: .*its results would be wrong/);
    tf.dispose([x, p]);
    // The error is reported once; the device works on.
    const y = tf.add(tf.ones([3]), 1);
    assert.deepEqual(Array.from(await y.data()), [2, 2, 2]);
    y.dispose();
  });

  test('workaround: upfirdn2d zero insertion as two rank-4 pads (a rank-6 pad fails on webgpu) equals cpu, forward and gradient', async () => {
    const x = () =>
      tf.tensor4d(
        Float32Array.from({ length: 2 * 3 * 5 * 4 }, (_, i) => Math.sin(i)),
        [2, 3, 5, 4],
      );
    const z = await onBoth(() => tf.tidy(() => insertZeros(x(), 2, 3)));
    assert.deepEqual(Array.from(z.gpu), Array.from(z.cpu));
    // The composite path (the one a backend without RloUpFirDn2d runs): our kernel set aside.
    const kernel = tf.getKernel(UPFIRDN2D_KERNEL, 'webgpu')!;
    tf.unregisterKernel(UPFIRDN2D_KERNEL, 'webgpu');
    try {
      const up = await onBoth(() => tf.tidy(() => upfirdn2d(x(), setupFilter([1, 3, 3, 1]), { up: 2, padding: [2, 1, 2, 1], gain: 4 })));
      assert.ok(maxDiff(up.gpu, up.cpu) < 1e-5, `upsample: ${maxDiff(up.gpu, up.cpu)}`);
      const grad = await onBoth(() =>
        tf.tidy(() =>
          tf.grad((t: tf.Tensor) =>
            upfirdn2d(t as tf.Tensor4D, setupFilter([1, 3, 3, 1]), { down: 2, padding: 1 })
              .square()
              .sum(),
          )(x()),
        ),
      );
      assert.ok(maxDiff(grad.gpu, grad.cpu) < 1e-5, `downsample gradient (an upsampling): ${maxDiff(grad.gpu, grad.cpu)}`);
    } finally {
      tf.registerKernel(kernel);
    }
    // What the workaround avoids: the same zero insertion as one pad of a rank-6 view.
    const [n, h, w, c] = [2, 3, 5, 4];
    const six = tf.tidy(() =>
      x()
        .reshape([n, h, 1, w, 1, c])
        .pad([
          [0, 0],
          [0, 0],
          [0, 2],
          [0, 0],
          [0, 1],
          [0, 0],
        ]),
    );
    await assert.rejects(six.data(), /PadProgram/);
    six.dispose();
  });

  test(`workaround: sums of many tensors as addN groups of ${ADD_N_GROUP} (an addN of more inputs fails on webgpu)`, async () => {
    const parts = () => Array.from({ length: 43 }, (_, i) => tf.fill([3], i));
    const s = await onBoth(() => tf.tidy(() => sumAll(parts())));
    assert.deepEqual(Array.from(s.gpu), [903, 903, 903]);
    assert.deepEqual(Array.from(s.cpu), [903, 903, 903]);
    const direct = tf.tidy(() => tf.addN(parts()));
    await assert.rejects(direct.data(), /AddNPackedProgram/);
    direct.dispose();
  });

  test('bias_act runs as our WGSL kernel (one pass per output) and equals the composite ops: every activation, with and without bias and clamp, NaN kept', async () => {
    assert.ok(tf.getKernel(BIAS_ACT_KERNEL, 'webgpu'), 'RloBiasAct is registered on webgpu');
    const rng = new Rng('bias-act-webgpu');
    const shape = [2, 3, 3, 8];
    const xv = rng.normalArray(2 * 3 * 3 * 8).map((v) => v * 2);
    xv[5] = Number.NaN;
    xv[6] = 0; // the activation's kink
    const bv = rng.normalArray(8).map((v) => v * 0.5);
    const dv = rng.normalArray(xv.length),
      rv = rng.normalArray(xv.length);
    for (const act of ['linear', 'relu', 'lrelu'] as const)
      for (const clamp of [null, 0.7])
        for (const withBias of [true, false]) {
          // The value, the gradient (dy = 1: the slope) and the gradient of the gradient with
          // respect to dy (R1 and path length take it: the slope again, applied to r).
          const f = () =>
            tf.tidy(() => {
              const x = tf.tensor4d(xv, shape as [number, number, number, number]);
              const b = withBias ? tf.tensor1d(bv) : null;
              const y = biasAct(x, b, { act, clamp });
              const g = tf.grad((xi: tf.Tensor) => biasAct(xi, b, { act, clamp }).sum())(x);
              const vjp = (dy: tf.Tensor) => tf.grad((xi: tf.Tensor) => biasAct(xi, b, { act, clamp }).mul(dy).sum())(x);
              const gg = tf.grad((dy: tf.Tensor) => vjp(dy).mul(tf.tensor1d(rv).reshape(shape)).sum())(tf.tensor1d(dv).reshape(shape));
              return tf.concat([y.reshape([-1]), g.reshape([-1]), gg.reshape([-1])]);
            });
          const { gpu, cpu } = await onBoth(f);
          const what = `${act}, clamp ${clamp}, ${withBias ? 'bias' : 'no bias'}`;
          for (let i = 0; i < cpu.length; i++) {
            if (Number.isNaN(cpu[i])) assert.ok(Number.isNaN(gpu[i]), `${what}: element ${i} is NaN on cpu-js, ${gpu[i]} on webgpu`);
            else assert.ok(Math.abs(gpu[i] - cpu[i]) <= 1e-6 * (1 + Math.abs(cpu[i])), `${what}: element ${i}: ${gpu[i]} vs ${cpu[i]}`);
          }
        }
    // The kernels replace the composite: under a gradient tape, one pass forward (no mask is made
    // or kept: the backward pass reads the output), one backward, and none of the composite's
    // compare/select/clip kernels.
    const x = tf.randomNormal([4, 16]);
    const prof = await tf.profile(() => tf.tidy(() => tf.grad((xi: tf.Tensor) => biasAct(xi, null, { act: 'lrelu', clamp: 1 }).sum())(x)));
    x.dispose();
    const names = prof.kernels.map((k) => k.name);
    assert.deepEqual(
      names.filter((n) => n.startsWith('RloBiasAct')),
      [BIAS_ACT_KERNEL, BIAS_ACT_GRAD_KERNEL],
      names.join(', '),
    );
    for (const composite of ['Greater', 'Select', 'ClipByValue', 'LessEqual']) assert.ok(!names.includes(composite), `${composite} ran: ${names.join(', ')}`);
    // At the clamp itself the gradient is zero, as upstream's CUDA op (which reads the output) has
    // it; the composite, as upstream's reference implementation (torch.clamp), passes it there.
    const atClamp = await onBoth(() =>
      tf.tidy(() => tf.grad((xi: tf.Tensor) => biasAct(xi, null, { act: 'linear', clamp: 0.5, gain: 1 }).sum())(tf.tensor1d([0.5, -0.5, 0.25, 2]))),
    );
    assert.deepEqual(Array.from(atClamp.gpu), [0, 0, 1, 0]);
    assert.deepEqual(Array.from(atClamp.cpu), [1, 1, 1, 0]);
  });

  test('upfirdn2d runs as our WGSL kernel (one pass) and equals the composite ops: up, down, both, crops, asymmetric factors, first and second gradients', async () => {
    assert.ok(tf.getKernel(UPFIRDN2D_KERNEL, 'webgpu'), 'RloUpFirDn2d is registered on webgpu');
    const rng = new Rng('upfirdn2d-webgpu');
    const xv = rng.normalArray(2 * 7 * 6 * 3);
    const x = () => tf.tensor4d(xv, [2, 7, 6, 3]);
    const f4 = setupFilter([1, 3, 3, 1]);
    const cases: [string, Parameters<typeof upfirdn2d>[1], Parameters<typeof upfirdn2d>[2]][] = [
      ['upsample2d', f4, { up: 2, padding: [2, 1, 2, 1], gain: 4 }],
      ['downsample2d', f4, { down: 2, padding: 1 }],
      ['up 3 x, 2 y; down 2 x, 1 y; flip', setupFilter([1, 2, 5, 2]), { up: [3, 2], down: [2, 1], padding: [1, 2, 0, 3], flipFilter: true }],
      ['negative padding (a crop)', f4, { padding: [-1, 1, 2, -2] }],
      ['a 1-D filter, 5 taps', setupFilter([[1, 4, 6, 4, 1]]), { padding: [2, 2, 0, 0], gain: 0.5 }],
      ['no filter, down 3', null, { down: 3 }],
    ];
    for (const [what, f, opts] of cases) {
      // The value, the gradient (weighted by a fixed dy) and a second-order term, on both backends.
      const both: Float32Array[] = [];
      for (const b of ['webgpu', 'cpu-js']) {
        await tf.setBackend(b);
        const r = new Rng(`upfirdn2d-dy-${what}`);
        const t = tf.tidy(() => {
          const xi = x();
          const y = upfirdn2d(xi, f, opts);
          const w = tf.tensor(r.normalArray(y.size), y.shape);
          const g = tf.grad((t2: tf.Tensor) =>
            upfirdn2d(t2 as tf.Tensor4D, f, opts)
              .mul(w)
              .sum(),
          )(xi);
          const gg = tf.grad((ww: tf.Tensor) =>
            tf
              .grad((t2: tf.Tensor) =>
                upfirdn2d(t2 as tf.Tensor4D, f, opts)
                  .mul(ww)
                  .sum(),
              )(xi)
              .square()
              .sum(),
          )(w);
          return tf.concat([y.reshape([-1]), g.reshape([-1]), gg.reshape([-1])]);
        });
        both.push((await t.data()) as Float32Array);
        t.dispose();
      }
      await tf.setBackend('webgpu');
      assert.equal(both[0].length, both[1].length);
      for (let i = 0; i < both[1].length; i++)
        assert.ok(Math.abs(both[0][i] - both[1][i]) <= 2e-6 * (1 + Math.abs(both[1][i])), `${what}: element ${i}: ${both[0][i]} vs ${both[1][i]}`);
    }
    // The kernel replaces the composite: no pads, depthwise convolution or strided slice.
    const xs = x();
    const prof = await tf.profile(() =>
      tf.tidy(() => tf.grad((t: tf.Tensor) => upfirdn2d(t as tf.Tensor4D, f4, { up: 2, padding: [2, 1, 2, 1], gain: 4 }).sum())(xs)),
    );
    xs.dispose();
    const names = prof.kernels.map((k) => k.name);
    assert.equal(names.filter((n) => n === UPFIRDN2D_KERNEL).length, 2, names.join(', '));
    for (const composite of ['PadV2', 'DepthwiseConv2dNative', 'StridedSlice']) assert.ok(!names.includes(composite), `${composite} ran: ${names.join(', ')}`);
  });

  test('the Adam step runs as our WGSL kernel and equals the composite ops: first steps and late ones, beta1 0 and 0.9, a skipped step keeps every value', async () => {
    assert.ok(tf.getKernel(ADAM_UPDATE_KERNEL, 'webgpu'), 'RloAdamUpdate is registered on webgpu');
    const rng = new Rng('adam-webgpu');
    const n = 1000;
    const [pv, mv, vv, gv] = [rng.normalArray(n), rng.normalArray(n).map((v) => v * 0.1), rng.normalArray(n).map((v) => v * v * 0.01), rng.normalArray(n)];
    gv[7] = 0;
    for (const [beta1, t, apply] of [
      [0, 1, true],
      [0.9, 1, true],
      [0, 37, true],
      [0.9, 2500, true],
      [0.9, 3, false],
    ] as const) {
      const step = () =>
        tf.tidy(() => {
          const s = adamUpdate(tf.tensor1d(pv), tf.tensor1d(mv), tf.tensor1d(vv), tf.tensor1d(gv), tf.scalar(t), tf.scalar(apply, 'bool'), {
            lr: 0.0025,
            beta1,
            beta2: 0.99,
            eps: 1e-8,
          });
          return tf.concat([s.p, s.m, s.v]);
        });
      const { gpu, cpu } = await onBoth(step);
      const what = `beta1 ${beta1}, t ${t}, apply ${apply}`;
      // The moments to float32 rounding; the step p' - p to 2e-5 of itself: its bias corrections
      // take WGSL's pow (a few ulp of beta^t, which 1 - beta^t magnifies at early steps; tfjs'
      // own Pow on webgpu is no closer), where cpu-js rounds a double pow once.
      for (let i = n; i < cpu.length; i++)
        assert.ok(Math.abs(gpu[i] - cpu[i]) <= 1e-6 * (1e-6 + Math.abs(cpu[i])), `${what}: moment element ${i}: ${gpu[i]} vs ${cpu[i]}`);
      for (let i = 0; i < n; i++) {
        const dg = gpu[i] - Math.fround(pv[i]),
          dc = cpu[i] - Math.fround(pv[i]);
        assert.ok(Math.abs(dg - dc) <= 2e-5 * Math.abs(dc) + 1e-6 * Math.abs(cpu[i]), `${what}: step of element ${i}: ${dg} vs ${dc}`);
      }
      if (!apply) assert.deepEqual(Array.from(gpu), [...pv, ...mv, ...vv].map(Math.fround), `${what}: p, m and v kept`);
    }
    const prof = await tf.profile(() =>
      tf.tidy(() => {
        const s = adamUpdate(tf.tensor1d(pv), tf.tensor1d(mv), tf.tensor1d(vv), tf.tensor1d(gv), tf.scalar(2), tf.scalar(true, 'bool'), {
          lr: 0.0025,
          beta1: 0,
          beta2: 0.99,
          eps: 1e-8,
        });
        return [s.p, s.m, s.v];
      }),
    );
    const names = prof.kernels.map((k) => k.name);
    assert.deepEqual(
      names.filter((k) => !['RloAdamUpdate'].includes(k) && !k.startsWith('Identity')),
      [],
      names.join(', '),
    );
  });

  test('generate --backend webgpu writes the images cpu writes (within 1 level of 255)', async () => {
    const dir = await tempDir('webgpu-generate');
    const run = cliWith({ timeout: 300_000 });
    const images: Record<string, Uint8Array[]> = {};
    for (const b of ['webgpu', 'cpu']) {
      const r = run('generate', '--network', 'emoji32', '--seeds', '0-1', '--outdir', path.join(dir, b), '--backend', b);
      assert.equal(r.status, 0, r.stderr);
      if (b === 'webgpu') assert.match(r.stderr, /^backend: webgpu \(/m);
      images[b] = await Promise.all(['seed0000.png', 'seed0001.png'].map(async (f) => PNG.sync.read(await fs.readFile(path.join(dir, b, f))).data));
    }
    for (let i = 0; i < 2; i++) assert.ok(maxDiff(images.webgpu[i], images.cpu[i]) <= 1, `seed ${i}: ${maxDiff(images.webgpu[i], images.cpu[i])} levels`);
  });

  test('20 training iterations (every phase, ADA, rooted loss) leave no tensors and no GPU memory behind', async (t) => {
    // 8x8 (two blocks): SwiftShader's cost is per dispatch, and this is the fewest that has every layer kind.
    const G_kwargs = {
      z_dim: 16,
      c_dim: 0,
      w_dim: 16,
      img_resolution: 8,
      img_channels: 3,
      mapping_kwargs: { num_layers: 2 },
      synthesis_kwargs: { channel_base: 64, channel_max: 16 },
    };
    const D_kwargs = { c_dim: 0, img_resolution: 8, img_channels: 3, channel_base: 64, channel_max: 16, epilogue_kwargs: { mbstd_group_size: 2 } };
    const rng = new Rng(3);
    const G = new Generator(G_kwargs, rng),
      D = new Discriminator(D_kwargs, rng),
      Ge = new Generator(G_kwargs);
    Ge.params.copyFrom(G.params);
    const aug = new AugmentPipe('bgc', 0.2);
    const opts = {
      ...UPSTREAM_CONSTANTS,
      gRegInterval: 2,
      dRegInterval: 2, // every phase within the warm-up
      objective: rooted(2),
      batch: 2,
      batchGpu: 2,
      glr: 0.002,
      dlr: 0.002,
      r1Gamma: 0.1,
      plWeight: 2,
      styleMixingProb: 0.9,
      emaKimg: 0.01,
      emaRampup: 0.05,
      adaTarget: 0.6,
      adaKimg: 1,
    };
    const tr = new Trainer(G, D, Ge, opts, rng, aug);
    const reals = { img: tf.randomUniform([2, 8, 8, 3], -1, 1, 'float32', 5) as tf.Tensor4D, c: null };
    const gpuBytes = () => (tf.memory() as tf.MemoryInfo & { numBytesInGPU: number }).numBytesInGPU;
    for (let i = 0; i < 4; i++) await tr.step(reals, null);
    const t0 = performance.now();
    const tensors = tf.memory().numTensors,
      bytes = gpuBytes();
    for (let i = 0; i < 20; i++) await tr.step(reals, null);
    t.diagnostic(`20 iterations in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    const w = await G.params.read('mapping.fc0.weight');
    assert.ok(w.data.every(Number.isFinite), 'the weights stayed finite');
    assert.equal(tf.memory().numTensors, tensors, 'tensors after 20 more iterations');
    assert.equal(gpuBytes(), bytes, 'GPU bytes held by tensors after 20 more iterations');
    tr.dispose();
    tf.dispose([reals.img]);
    G.dispose();
    D.dispose();
    Ge.dispose();
  });

  test('finetune --backend webgpu completes its ticks and writes the snapshot, the grids and the report', async () => {
    const f = await tinyTrainingFixture('webgpu-finetune', 4);
    const runDir = path.join(f.dir, 'run');
    const r = cliWith({ timeout: 300_000 })(...tinyRunFlags(f.ckpt, f.data, runDir, '0.008', '--tick', '0.004', '--grid', '2x2', '--backend', 'webgpu'));
    assert.equal(r.status, 0, r.stderr);
    const files = await fs.readdir(runDir);
    for (const want of ['network-snapshot-0000.008.safetensors', 'fakes0000.008.png', 'fakes_init.png', 'reals.png', 'index.html', 'stats.jsonl'])
      assert.ok(files.includes(want), `${want} in ${files}`);
    assert.match(await fs.readFile(path.join(runDir, 'log.txt'), 'utf8'), /^backend: webgpu \(/m);
  });

  test('a planted device error fails the command in one line, and no image is written', async () => {
    const dir = await tempDir('webgpu-planted');
    const plant = path.resolve('dist/test/plant_device_error.js');
    const r = cliWith({ timeout: 300_000, env: { NODE_OPTIONS: `--import ${plant}` } })(
      'generate',
      '--network',
      'emoji32',
      '--seeds',
      '0',
      '--outdir',
      path.join(dir, 'out'),
      '--backend',
      'webgpu',
    );
    assert.equal(r.status, 1, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.match(lines.at(-1)!, /^stylegan-rlo: webgpu: a GPU command failed in the UpFirDn2dProgram GPU kernel: .*its results would be wrong/);
    assert.equal(lines.filter((l) => l.startsWith('stylegan-rlo:')).length, 1);
    assert.deepEqual(await fs.readdir(path.join(dir, 'out')).catch(() => []), []);
  });
});
