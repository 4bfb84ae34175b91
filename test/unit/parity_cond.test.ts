// Parity on a second upstream reference (test/fixtures/cond16.*, made with stylegan2-ada-pytorch
// as test/fixtures/README.md says): conditional (c_dim 3), grayscale, G 'resnet', D 'skip', mapping
// depth 3, w_dim != z_dim, mbstd group 2. Tolerances as tiny16's.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { Generator } from '../../src/networks/generator.js';
import { Discriminator } from '../../src/networks/discriminator.js';
import { readSafetensors } from '../../src/formats/safetensors.js';
import type { StTensor } from '../../src/records.js';
import { gMainLoss, dLogits, synthesizer } from '../../src/losses/phases.js';
import { rooted } from '../../src/losses/objectives.js';
import { disposeGradients, gradientsToUpstream, paramGradients } from '../../src/losses/gradients.js';
import { assertClose, FIXTURES, nchwToNhwc, stateDict, testBackend } from '../helpers.js';

let st: Map<string, StTensor>, G: Generator, D: Discriminator;
const cfg = JSON.parse(readFileSync(path.join(FIXTURES, 'cond16.json'), 'utf8'));
const ref = (k: string) => st.get(k)!.data as Float32Array;

before(async () => {
  await testBackend();
  st = (await readSafetensors(path.join(FIXTURES, 'cond16.safetensors'))).tensors;
  G = new Generator(cfg.G_kwargs);
  D = new Discriminator(cfg.D_kwargs);
  G.params.setAll(stateDict(st, 'G'));
  D.params.setAll(stateDict(st, 'D'));
});

describe('cond16 parity (conditional, grayscale, resnet G, skip D)', () => {
  test('ws, synthesis, discriminator on reals and fakes', () => {
    tf.tidy(() => {
      const z = tf.tensor2d(ref('z'), [2, 16]),
        c = tf.tensor2d(ref('c'), [2, 3]);
      const ws = G.mapZ(z, c);
      assertClose('ws', ws.dataSync(), ref('ws'), 1e-4, 1e-4);
      const img = G.synthesize(ws, { noise_mode: 'const' });
      assertClose('img_const', img.transpose([0, 3, 1, 2]).dataSync(), ref('img_const'), 1e-4, 1e-4);
      assertClose('logits_fake', D.apply(img, c).dataSync(), ref('logits_fake'), 1e-4, 1e-4);
      assertClose('logits_real', D.apply(nchwToNhwc(st.get('reals')!), c).dataSync(), ref('logits_real'), 1e-4, 1e-4);
    });
  });

  test('G rooted-loss gradients w.r.t. every parameter', async () => {
    const z = tf.tensor2d(ref('z'), [2, 16]),
      c = tf.tensor2d(ref('c'), [2, 3]);
    const g = paramGradients(G.params, () => gMainLoss(synthesizer(G, { noise_mode: 'const' }), dLogits(D), G.mapZ(z, c), c, rooted(cfg.rooted_k)).loss);
    const up = await gradientsToUpstream(G.params, g.grads);
    disposeGradients(g);
    let scale = 0;
    for (const k of up.keys()) for (const v of ref(`grad_G_rooted/${k}`)) scale = Math.max(scale, Math.abs(v));
    for (const [k, v] of up) {
      assertClose(k, v.data, ref(`grad_G_rooted/${k}`), 1e-5, 1e-3);
      assertClose(`${k} (scaled)`, v.data, ref(`grad_G_rooted/${k}`), 1e-4 * scale, 1e-3);
    }
    assert.ok(up.size > 30);
    tf.dispose([z, c]);
  });
});
