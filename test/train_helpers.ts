// Fixtures for training tests: a checkpoint of the tiny16 reference network and image folders.
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import sharp from 'sharp';
import { Generator } from '../src/networks/generator.js';
import { Discriminator } from '../src/networks/discriminator.js';
import { saveCheckpoint } from '../src/formats/checkpoint.js';
import { FIXTURES, loadTiny16, stateDict } from './helpers.js';
import type { DiscriminatorConfig, GeneratorConfig } from '../src/networks/config.js';
import type { StTensor } from '../src/records.js';

export async function tempDir(prefix: string): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), `rlo-${prefix}-`));
}

/** A checkpoint `file` of networks built from these kwargs (G_ema = G), with optional upstream weights. */
async function networkCheckpoint(file: string, G_kwargs: GeneratorConfig, D_kwargs: DiscriminatorConfig, weights?: Map<string, StTensor>): Promise<string> {
  const G = new Generator(G_kwargs),
    D = new Discriminator(D_kwargs);
  if (weights) {
    G.params.setAll(stateDict(weights, 'G'));
    D.params.setAll(stateDict(weights, 'D'));
  }
  await saveCheckpoint(file, { format: 'stylegan-rlo', version: 1, G_kwargs, D_kwargs }, { G: G.params, D: D.params, G_ema: G.params });
  G.dispose();
  D.dispose();
  return file;
}

/** tiny16 (G, D, G_ema = G) as one of our checkpoints. */
export async function tiny16Checkpoint(dir: string): Promise<string> {
  const { st, json } = await loadTiny16();
  return networkCheckpoint(path.join(dir, 'tiny16.safetensors'), json.G_kwargs, json.D_kwargs, st.tensors);
}

/** A conditional network (cond16's architecture: 3 classes, grayscale; freshly initialized) as a checkpoint. */
export async function conditionalCheckpoint(dir: string): Promise<string> {
  const json = JSON.parse(await fs.readFile(path.join(FIXTURES, 'cond16.json'), 'utf8'));
  return networkCheckpoint(path.join(dir, 'cond16.safetensors'), json.G_kwargs, json.D_kwargs);
}

/** `n` small images with distinct colors and a gradient (sizes vary to exercise crop + resize). */
export async function imageFolder(dir: string, n: number, opts: { channels?: 1 | 3 | 4; width?: number; height?: number } = {}): Promise<string> {
  await fs.mkdir(dir, { recursive: true });
  const ch = opts.channels ?? 3;
  for (let i = 0; i < n; i++) {
    const w = opts.width ?? 20 + (i % 3) * 4,
      h = opts.height ?? 24;
    const px = Buffer.alloc(w * h * ch);
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let c = 0; c < ch; c++) {
          px[(y * w + x) * ch + c] = c === 3 ? 255 : (37 * i + 11 * x + 7 * y + 90 * c) % 256;
        }
    await sharp(px, { raw: { width: w, height: h, channels: ch } })
      .png()
      .toFile(path.join(dir, `img${String(i).padStart(3, '0')}.png`));
  }
  return dir;
}

/** A temp dir with the tiny16 checkpoint and a folder of `images` small images: the usual training fixture. */
export async function tinyTrainingFixture(prefix: string, images = 4): Promise<{ dir: string; ckpt: string; data: string }> {
  const dir = await tempDir(prefix);
  return { dir, ckpt: await tiny16Checkpoint(dir), data: await imageFolder(path.join(dir, 'data'), images) };
}

/**
 * After a stop while loading or before the first iteration: no run directory at all (stderr says
 * so), or one that holds a snapshot; never a dead one without.
 */
export async function assertNoDeadRunDir(rd: string, stderr: string): Promise<void> {
  const left = await fs.readdir(rd).catch(() => null);
  if (left === null) assert.match(stderr, /stopped before (training started|the first iteration)/);
  else
    assert.ok(
      left.some((f) => f.startsWith('network-snapshot-')),
      `a run directory without a snapshot: ${left}`,
    );
}
