// Loads a pytorch-fid Inception state dict (.pth, zip or legacy torch.save format) through our
// reader and compares its features on the fixture images with the expected ones.
//   node dist/scripts/check-inception-pth.js <file.pth> [fixture-dir]
// With the shared reference's inception_hashed.legacy.pth this checks the full-size loading path.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { initBackend } from '../src/backend.js';
import { loadInceptionWeights } from '../src/metrics/weights.js';
import { imageFeatures, InceptionV3 } from '../src/metrics/inception.js';
import { readSafetensors } from '../src/formats/safetensors.js';

async function main() {
  const file = process.argv[2];
  if (!file) throw new Error('usage: check-inception-pth <file.pth> [fixture-dir]');
  const dir = process.argv[3] ?? path.resolve('test/fixtures/inception');
  await initBackend('auto');
  const t0 = performance.now();
  const net = new InceptionV3(await loadInceptionWeights(file));
  const tLoad = performance.now() - t0;
  const st = (await readSafetensors(path.join(dir, 'inception_io.safetensors'))).tensors;
  const report: Record<string, number> = {};
  for (const [img, tag, n, s] of [
    ['images_u8_64', '64', 4, 64],
    ['images_u8_32', '32', 2, 32],
    ['image_u8_299', '299', 1, 299],
  ] as const) {
    for (const protocol of ['pytorch-fid', 'nvidia'] as const) {
      const f = await imageFeatures(net, st.get(img)!.data as Uint8Array, n, s, s, 3, protocol);
      const e = st.get(protocol === 'nvidia' ? `features_nvidia_${tag}` : `features_${tag}`)!.data as Float32Array;
      let m = 0;
      for (let i = 0; i < f.length; i++) m = Math.max(m, Math.abs(f[i] - e[i]));
      report[`${protocol} ${s}px max abs error`] = m;
    }
  }
  console.log(JSON.stringify({ file, bytes: (await fs.stat(file)).size, loadMs: Math.round(tLoad), ...report }, null, 2));
  net.dispose();
}

main().catch((e) => {
  console.error(`check-inception-pth: ${(e as Error).message}`);
  process.exit(1);
});
