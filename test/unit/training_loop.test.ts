// Training-loop parity: upstream stylegan2-ada-pytorch's own training_loop.py (with loss.py and
// augment.py) ran 4 iterations of a tiny config with every random draw recorded
// (scripts/fixtures/make-training-loop-fixture.py, test/fixtures/README.md). Our trainer replays the draws
// and must match G, D, G_ema and both Adams' moments after every iteration: all four phases
// (regularization every 2nd iteration), batch 4 in rounds of 2, style mixing, random noise, the
// 'bgc' augmentation at a fixed p = 0.5 (through R1's double backward), and G_ema's ramp-up.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { readSafetensors } from '../../src/formats/safetensors.js';
import type { StTensor } from '../../src/records.js';
import { section } from '../../src/formats/checkpoint.js';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import type { DiscriminatorConfig, GeneratorConfig } from '../../src/networks/config.js';
import { Trainer } from '../../src/train/trainer.js';
import { AugmentPipe } from '../../src/train/augment.js';
import { resolveTrainingOptions, trainerOptions } from '../../src/train/options.js';
import { ReplayRng } from '../replay_rng.js';
import { closeness, FIXTURES, testBackend, webgpuUnavailable } from '../helpers.js';
import { releaseWebGpu } from '../../src/webgpu/device.js';
import { initBackend } from '../../src/backend.js';

// The logistic loss (upstream's loss.py as released) and the rooted loss k = 2 (the same loop with
// loss.py's three softplus terms replaced by k(1 + e^-z)^(1/k)); each fixture holds under a 1e-7
// relative nudge of its initial weights (the maker's --nudge: worst ratio to the tolerances below
// 0.03 and 0.10).
// biome-ignore lint/suspicious/noExplicitAny: the fixture's config is upstream's kwargs, read field by field
type Meta = { config: any; iters: number; res: number; draws: Record<string, number>; loss?: { name: 'logistic' | 'rooted'; k?: number } };
const fixtures = new Map<string, { fx: Map<string, StTensor>; meta: Meta }>();
before(async () => {
  await testBackend();
  for (const file of ['training_loop.safetensors', 'training_loop_rooted.safetensors']) {
    const f = await readSafetensors(path.join(FIXTURES, file));
    fixtures.set(file, { fx: f.tensors, meta: JSON.parse(f.metadata.fixture) });
  }
});

const without = (o: object, ...keys: string[]) => Object.fromEntries(Object.entries(o).filter(([k]) => !keys.includes(k)));

// 'webgpu' where it starts (SwiftShader without a GPU; CI makes sure it does: webgpu.test.ts).
after(releaseWebGpu);
for (const backend of ['cpu', 'cpu-js', ...((await webgpuUnavailable()) === null ? ['webgpu'] : [])])
  for (const [file, lossName] of [
    ['training_loop.safetensors', 'logistic'],
    ['training_loop_rooted.safetensors', 'rooted k=2'],
  ] as const)
    test(`our trainer matches upstream's training loop after every iteration (${lossName}, ${backend})`, async () => {
      await initBackend(backend, false);
      const { fx, meta } = fixtures.get(file)!;
      const objective = meta.loss ?? { name: 'logistic' };
      assert.equal(objective.name, lossName.split(' ')[0], `${file} holds the ${lossName} loop`);
      const c = meta.config;
      const common = { c_dim: 0, img_resolution: meta.res, img_channels: 3 };
      const G_kwargs = { ...without(c.G_kwargs, 'class_name'), ...common } as unknown as GeneratorConfig;
      const D_kwargs = { ...without(c.D_kwargs, 'class_name'), ...common } as unknown as DiscriminatorConfig;
      const G = new Generator(G_kwargs),
        D = new Discriminator(D_kwargs),
        Gema = new Generator(G_kwargs);
      G.params.setAll(section(fx, 'init/G'));
      Gema.params.setAll(section(fx, 'init/G'));
      D.params.setAll(section(fx, 'init/D'));
      const loss = c.loss_kwargs as { r1_gamma: number; style_mixing_prob: number; pl_weight: number };
      const o = resolveTrainingOptions(
        {
          data: '',
          loss: objective.name,
          ...(objective.k !== undefined ? { k: objective.k } : {}),
          batch: c.batch_size as number,
          batchGpu: c.batch_gpu as number,
          glr: 0.0025,
          dlr: 0.0025,
          gamma: loss.r1_gamma,
          plWeight: loss.pl_weight,
          styleMixing: loss.style_mixing_prob,
          ema: c.ema_kimg as number,
          emaRampup: c.ema_rampup as number,
          aug: 'fixed',
          p: c.augment_p as number,
        },
        { G_kwargs, D_kwargs },
        'test',
      );
      const opts = { ...trainerOptions(o), gRegInterval: c.G_reg_interval as number, dRegInterval: c.D_reg_interval as number };
      const rng = new ReplayRng({
        normal: fx.get('draws/normal')!.data as Float32Array,
        uniform: fx.get('draws/uniform')!.data as Float32Array,
        int: fx.get('draws/int')!.data as Float32Array,
      });
      const trainer = new Trainer(G, D, Gema, opts, rng, new AugmentPipe('bgc', c.augment_p as number));
      const images = fx.get('images')!.data as Float32Array,
        fetched = fx.get('fetched')!.data as Float32Array;
      const per = meta.res * meta.res * 3,
        B = opts.batch;
      const report: string[] = [];
      for (let it = 1; it <= meta.iters; it++) {
        const reals = new Float32Array(B * per);
        for (let k = 0; k < B; k++) for (let i = 0; i < per; i++) reals[k * per + i] = images[fetched[(it - 1) * B + k] * per + i] / 127.5 - 1;
        const img = tf.tensor4d(reals, [B, meta.res, meta.res, 3]);
        await trainer.step({ img, c: null }, null);
        img.dispose();
        // Parameters within 1e-5 + 1e-3|e|; Adam moments (m is the last gradient, beta1 = 0) within
        // 1e-5 + 1e-2|e| and 1e-8 + 1e-2|e|: D's gradients pass through the augmentation's float32
        // wavelet resampling (the augment fixture's own tolerance is 2e-4 + 1e-3|e| on images).
        const check = (what: string, ours: Map<string, { data: Float32Array }>, prefix: string, atol: number, rtol: number) => {
          let worst = { r: 0, name: '', rel: 0 };
          for (const [name, e] of section(fx, prefix)) {
            const a = ours.get(name);
            assert.ok(a, `${what}: ${name} missing on our side`);
            const cl = closeness(a.data, e.data, atol, rtol);
            let scale = 0;
            for (const v of e.data) scale = Math.max(scale, Math.abs(v));
            const rel = cl.maxAbs / (scale || 1);
            if (cl.worst > worst.r) worst = { r: cl.worst, name, rel };
            if (process.env.DBG) continue;
            assert.ok(
              cl.worst <= 1,
              `iteration ${it}, ${what} ${name}: max |a-e| ${cl.maxAbs.toExponential(2)} exceeds ${atol} + ${rtol}|e| (at ${cl.index}: ${a.data[cl.index]} vs ${e.data[cl.index]})`,
            );
          }
          report.push(`${it} ${what}: worst ratio ${worst.r.toFixed(2)} (${worst.name}, max error / max |e| = ${worst.rel.toExponential(1)})`);
        };
        check('G', await G.params.readAll(), `iter${it}/G`, 1e-5, 1e-3);
        check('D', await D.params.readAll(), `iter${it}/D`, 1e-5, 1e-3);
        check('G_ema', await Gema.params.readAll(), `iter${it}/G_ema`, 1e-5, 1e-3);
        const moments = async (opt: typeof trainer.optG, store: typeof G.params, which: 'm' | 'v') => {
          const out = new Map<string, { data: Float32Array }>();
          for (const [name, t] of opt[which]) out.set(name, await store.toUpstreamArray(name, t));
          return out;
        };
        check('Adam G m', await moments(trainer.optG, G.params, 'm'), `iter${it}/opt_G/m`, 1e-5, 1e-2);
        check('Adam G v', await moments(trainer.optG, G.params, 'v'), `iter${it}/opt_G/v`, 1e-8, 1e-2);
        check('Adam D m', await moments(trainer.optD, D.params, 'm'), `iter${it}/opt_D/m`, 1e-5, 1e-2);
        check('Adam D v', await moments(trainer.optD, D.params, 'v'), `iter${it}/opt_D/v`, 1e-8, 1e-2);
      }
      // Every recorded draw was consumed, none invented.
      assert.deepEqual(rng.consumed(), { normal: meta.draws.normal, uniform: meta.draws.uniform, int: meta.draws.int });
      if (process.env.DBG) console.log(report.join('\n'));
      trainer.dispose();
      G.dispose();
      D.dispose();
      Gema.dispose();
    });
