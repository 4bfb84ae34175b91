// interpolate: latent walks (slerp in z, lerp in w) start on their keyframes' images, loop, are
// deterministic per seed, and encode as animated WebP/GIF with one page per frame; truncation
// sweeps; bad options are one line; no tensor leaks.
import { cli as runCli } from '../cli_helper.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs';
import { buildGenerator, loadNetwork } from '../../src/io/network.js';
import { generateImages } from '../../src/generate.js';
import { latentWalk, slerp, truncationSweep } from '../../src/interpolate.js';
import type { Generator } from '../../src/networks/generator.js';
import { tempDir, tiny16Checkpoint } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

let dir: string, ckpt: string, G: Generator;
before(async () => {
  await testBackend();
  dir = await tempDir('interpolate');
  ckpt = await tiny16Checkpoint(dir);
  G = buildGenerator(await loadNetwork(ckpt));
});

const maxDiff = (a: Uint8Array, b: Uint8Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

test('slerp: endpoints exact, constant norm between orthogonal unit vectors', () => {
  const a = Float32Array.from([1, 0, 0]),
    b = Float32Array.from([0, 1, 0]);
  assert.deepEqual(Array.from(slerp(a, b, 0)), [1, 0, 0]);
  const mid = slerp(a, b, 0.5);
  assert.ok(Math.abs(Math.hypot(...mid) - 1) < 1e-6, 'norm kept');
  assert.ok(Math.abs(mid[0] - Math.SQRT1_2) < 1e-6);
});

test("walks: keyframes are the seeds' images, loops return, z and w walks, deterministic, no leaks", async () => {
  const before = tf.memory().numTensors;
  const keys = await generateImages(G, [3, 7]);
  for (const space of ['z', 'w'] as const) {
    const frames = await latentWalk(G, [3, 7], { space, framesPerSeed: 4, loop: true });
    assert.equal(frames.length, 8, `${space}: 2 segments of 4 frames`);
    assert.ok(maxDiff(frames[0], keys[0]) <= 2, `${space}: the first frame is seed 3's image`);
    assert.ok(maxDiff(frames[4], keys[1]) <= 2, `${space}: frame 4 is seed 7's image`);
    assert.ok(maxDiff(frames[1], frames[0]) > 0, `${space}: frames move`);
    const again = await latentWalk(G, [3, 7], { space, framesPerSeed: 4, loop: true });
    assert.deepEqual(again, frames, `${space}: deterministic`);
  }
  const open = await latentWalk(G, [3, 7], { framesPerSeed: 4, loop: false });
  assert.equal(open.length, 5);
  assert.ok(maxDiff(open[4], keys[1]) <= 2, 'an open walk ends on the last seed');
  const sweep = await truncationSweep(G, 3, 0, 1, 3);
  assert.equal(sweep.length, 3);
  assert.ok(maxDiff(sweep[2], keys[0]) <= 2, 'psi 1 is the untruncated image');
  assert.equal(tf.memory().numTensors, before);
});

test('CLI: animated WebP and GIF with a page per frame, frame folder, grid; bad options are one line', async () => {
  const cli = (...args: string[]) => runCli('interpolate', '--network', ckpt, ...args);
  const webp = path.join(dir, 'walk.webp');
  let r = cli('--seeds', '1,2,3', '--frames', '2', '--grid', '2x1', '--out', webp, '--frames-dir', path.join(dir, 'frames'));
  assert.equal(r.status, 0, r.stderr);
  const m = await sharp(webp, { animated: true }).metadata();
  assert.equal(m.pages, 6);
  assert.deepEqual([m.width, m.height! / m.pages!], [2 * 16 * 4, 16 * 4]);
  assert.equal((await fs.readdir(path.join(dir, 'frames'))).length, 6);
  const gif = path.join(dir, 'psi.gif');
  r = cli('--seeds', '0,1', '--trunc-sweep', '0:1', '--frames', '5', '--grid', '2x1', '--out', gif);
  assert.equal(r.status, 0, r.stderr);
  assert.equal((await sharp(gif, { animated: true }).metadata()).pages, 5);
  const one = (res: ReturnType<typeof cli>, re: RegExp) => {
    assert.equal(res.status, 1);
    assert.match(res.stderr.trim().split('\n').pop()!, re);
  };
  one(cli('--seeds', '1', '--out', path.join(dir, 'x.webp')), /a walk needs at least 2 seeds/);
  one(cli('--seeds', '1,2', '--out', path.join(dir, 'x.mp4')), /give a \.webp or \.gif file/);
  one(cli('--seeds', '1,2', '--out', webp), /already exists; use --force/);
  one(cli('--seeds', '1,2', '--frames', '0', '--out', path.join(dir, 'y.webp')), /--frames 0/);
});
