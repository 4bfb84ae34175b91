// Prepares the emoji data sets from the npm package emoji-datasource-google (Noto Emoji images,
// Apache-2.0): the held-out category (default: animal-mammal) for samples/, and every other base
// emoji with a Google image for pre-training.
//   node dist/scripts/emoji/prepare-emoji.js --out /tmp/emoji-data [--package DIR] [--holdout animal-mammal]
// Without --package it fetches the pinned package version with `npm pack` (npm registry only).
import { arg } from '../lib/args.js';
import { execFileSync } from 'node:child_process';
import { promises as fs, existsSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const VERSION = '16.0.0';

interface Emoji {
  image: string;
  category: string;
  subcategory: string;
  has_img_google: boolean;
  short_name: string;
  sort_order: number;
}

async function packageDir(): Promise<string> {
  const given = arg('package');
  if (given) return given;
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'emoji-'));
  execFileSync('npm', ['pack', `emoji-datasource-google@${VERSION}`, '--silent'], { cwd: tmp, stdio: ['ignore', 'pipe', 'inherit'] });
  const tgz = (await fs.readdir(tmp)).find((f) => f.endsWith('.tgz'))!;
  execFileSync('tar', ['xzf', tgz], { cwd: tmp });
  return path.join(tmp, 'package');
}

async function main() {
  const out = arg('out');
  if (!out) throw new Error('--out DIR is required');
  const holdout = arg('holdout', 'animal-mammal')!;
  const pkg = await packageDir();
  const emoji: Emoji[] = JSON.parse(await fs.readFile(path.join(pkg, 'emoji.json'), 'utf8'));
  const imgDir = path.join(pkg, 'img', 'google', '64');
  if (!existsSync(imgDir)) throw new Error(`${imgDir} not found: is ${pkg} the emoji-datasource-google package?`);
  const train = path.join(out, 'pretrain'),
    held = path.join(out, holdout);
  await fs.mkdir(train, { recursive: true });
  await fs.mkdir(held, { recursive: true });
  let nTrain = 0,
    nHeld = 0;
  for (const e of emoji.filter((x) => x.has_img_google).sort((a, b) => a.sort_order - b.sort_order)) {
    const src = path.join(imgDir, e.image);
    if (!existsSync(src)) continue;
    if (e.subcategory === holdout) {
      await fs.copyFile(src, path.join(held, `${e.short_name}.png`));
      nHeld++;
    } else {
      await fs.copyFile(src, path.join(train, e.image));
      nTrain++;
    }
  }
  console.log(
    JSON.stringify({
      package: `emoji-datasource-google@${VERSION}`,
      pretrain: { dir: train, images: nTrain },
      holdout: { name: holdout, dir: held, images: nHeld },
    }),
  );
}

main().catch((e) => {
  console.error(`prepare-emoji: ${(e as Error).message}`);
  process.exit(1);
});
