// The classifier arm's losses against their closed forms (values and gradients with respect to the
// logits), their limits as k grows (both tend to cross-entropy), and the arm itself on a tiny
// synthetic task: the selection picks a rate per loss, the confirmation runs the fresh seeds,
// finished runs are kept and not trained again, and the report is written.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { classificationLoss, classifierLoss } from '../../src/losses/classification.js';
import { type ArmData, type ArmOptions, classifierArm, writeArmReport } from '../../scripts/studies/classifier-arm.js';
import { fashionToRgb, loadFashionMnist } from '../../scripts/studies/fashion_mnist.js';
import { testBackend } from '../helpers.js';

const LOGITS = [
  [2, -1, 0.5],
  [-3, 4, 0],
];
const LABELS = [0, 2];

/** p_y of the fixture by hand. */
function pY(): number[] {
  return LOGITS.map((row, i) => {
    const e = row.map(Math.exp);
    return e[LABELS[i]] / e.reduce((a, b) => a + b, 0);
  });
}

test('values: cross-entropy -log p, rooted k p^(-1/k), GCE k (1 - p^(1/k))', async () => {
  await testBackend();
  const p = pY();
  const expect = {
    ce: p.map((v) => -Math.log(v)),
    rooted: p.map((v) => 2 * v ** (-1 / 2)),
    gce: p.map((v) => 2 * (1 - v ** (1 / 2))),
  };
  for (const kind of ['ce', 'rooted', 'gce'] as const) {
    const l = classifierLoss(classificationLoss(kind, 2), tf.tensor2d(LOGITS), tf.tensor1d(LABELS, 'int32'));
    const got = Array.from(await l.data());
    l.dispose();
    for (const [i, v] of got.entries()) assert.ok(Math.abs(v - expect[kind][i]) < 1e-5, `${kind}[${i}]: ${v} vs ${expect[kind][i]}`);
  }
});

test("gradients: each is cross-entropy's gradient times dL/d(-log p): p^(-1/k) for rooted, p^(1/k) for GCE", async () => {
  const p = pY();
  const grad = (kind: string) =>
    tf.tidy(() =>
      tf.grad((x: tf.Tensor) => classifierLoss(classificationLoss(kind, 2), x as tf.Tensor2D, tf.tensor1d(LABELS, 'int32')).sum())(tf.tensor2d(LOGITS)),
    );
  const ce = await grad('ce').data();
  for (const [kind, factor] of [
    ['rooted', (v: number) => v ** (-1 / 2)],
    ['gce', (v: number) => v ** (1 / 2)],
  ] as const) {
    const g = await grad(kind).data();
    for (let i = 0; i < g.length; i++) {
      const row = Math.floor(i / 3);
      assert.ok(Math.abs(g[i] - ce[i] * factor(p[row])) < 1e-5, `${kind} grad[${i}]: ${g[i]} vs ${ce[i] * factor(p[row])}`);
    }
  }
});

test('as k grows, rooted minus k and GCE tend to cross-entropy; a bad name or k is one line', async () => {
  const ce = -Math.log(pY()[0]);
  for (const kind of ['rooted', 'gce']) {
    const l = classifierLoss(classificationLoss(kind, 1e4), tf.tensor2d([LOGITS[0]]), tf.tensor1d([LABELS[0]], 'int32'));
    const v = (await l.data())[0] - (kind === 'rooted' ? 1e4 : 0);
    l.dispose();
    assert.ok(Math.abs(v - ce) < 1e-3 * ce + 2e-3, `${kind}: ${v} vs ${ce}`);
  }
  assert.throws(() => classificationLoss('hinge'), /classification loss 'hinge': choose one of ce, rooted, gce/);
  assert.throws(() => classificationLoss('gce', 0), /k must be a finite number > 0, got 0/);
});

test('the arm on a tiny task: a rate chosen per loss, fresh seeds confirmed, finished runs kept, the report written', async () => {
  // Three classes of 32x32 images: a red, a green or a blue square at a random place.
  let s = 7;
  const rand = () => {
    s = (s * 16807) % 2147483647;
    return s / 2147483647;
  };
  const make = (n: number) => {
    const images: Uint8Array[] = [],
      labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = i % 3,
        im = new Uint8Array(32 * 32 * 3).fill(255);
      const x0 = Math.floor(rand() * 20),
        y0 = Math.floor(rand() * 20);
      for (let y = y0; y < y0 + 10; y++)
        for (let x = x0; x < x0 + 10; x++) im.fill(0, (y * 32 + x) * 3, (y * 32 + x) * 3 + 3).fill(255, (y * 32 + x) * 3 + c, (y * 32 + x) * 3 + c + 1);
      images.push(im);
      labels.push(c);
    }
    return { images, labels };
  };
  const data: ArmData = { classes: 3, train: make(48), val: make(12), test: make(12) };
  const out = await fs.mkdtemp(path.join(os.tmpdir(), 'rlo-classifier-arm-'));
  const o: ArmOptions = {
    out,
    epochs: 2,
    seeds: [0, 1],
    selectSeed: 1000,
    lrs: [1e-3, 3e-3],
    losses: [classificationLoss('ce'), classificationLoss('rooted', 2), classificationLoss('gce', 2)],
    target: 0.5,
    batch: 16,
  };
  const before = tf.memory().numTensors;
  const logged: string[] = [];
  const runs = await classifierArm(data, o, (l) => logged.push(l));
  assert.equal(tf.memory().numTensors, before, 'no tensors left behind');
  assert.equal(runs.filter((r) => r.role === 'select').length, 3 * 2);
  const confirm = runs.filter((r) => r.role === 'confirm');
  assert.equal(confirm.length, 3 * 2);
  for (const r of runs) {
    assert.equal(r.accuracy.length, 2);
    assert.ok(r.accuracy.every((a) => a >= 0 && a <= 1));
  }
  for (const loss of ['cross-entropy', 'rooted k=2', 'GCE k=2']) {
    const sel = runs.filter((r) => r.role === 'select' && r.loss === loss);
    const best = sel.reduce((a, b) => (b.accuracy[1] > a.accuracy[1] ? b : a));
    assert.ok(
      confirm.filter((r) => r.loss === loss).every((r) => r.lr === best.lr),
      `${loss} confirmed at its chosen rate`,
    );
  }
  const again: string[] = [];
  const runs2 = await classifierArm(data, o, (l) => again.push(l));
  assert.deepEqual(again, [], 'finished runs are kept, not trained again');
  assert.deepEqual(
    runs2.map((r) => r.accuracy),
    runs.map((r) => r.accuracy),
  );
  const table = await writeArmReport(runs2, o, 'synthetic squares');
  assert.match(table, /^\| rooted k=2 \| [\d.e-]+ \| [\d.]+ ± [\d.]+ \| [\d.]+ \| [\d.]+ ± [\d.]+ \| /m);
  // Convergence speed as the mean accuracy over the epochs, compared like the final accuracy.
  const ce = runs2.filter((r) => r.role === 'confirm' && r.loss === 'cross-entropy');
  const area = (ce.reduce((a, r) => a + (r.accuracy[0] + r.accuracy[1]) / 2, 0) / ce.length).toFixed(3);
  assert.match(table, new RegExp(`^\\| cross-entropy \\| [\\d.e-]+ \\| [\\d.]+ ± [\\d.]+ \\| [\\d.]+ \\| ${area.replace('.', '\\.')} ± `, 'm'));
  assert.match(table, /Mean test accuracy over the epochs minus cross-entropy's \(Welch's t, bootstrap 95% CI\)/);
  for (const f of ['table.md', 'results.json', 'accuracy.svg', 'accuracy.png', 'strip.svg', 'strip.png']) await fs.stat(path.join(out, f));
  const results = JSON.parse(await fs.readFile(path.join(out, 'results.json'), 'utf8'));
  assert.equal(results.options.out, path.relative(process.cwd(), out), 'the output folder relative to where the arm ran');
  assert.equal(results.runs.length, runs2.length);
  assert.match(await fs.readFile(path.join(out, 'accuracy.svg'), 'utf8'), />epoch</);
  await fs.rm(out, { recursive: true });
});

test('Fashion-MNIST: the package read as 32x32 RGB (inverted, white border), a fixed split per class; a missing or short package is one line', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'rlo-fashion-'));
  const clothes = path.join(root, 'src', 'clothes');
  await fs.mkdir(clothes, { recursive: true });
  // Class c, image i: every pixel is (c * 10 + i) % 256, and pixel 0 of each is 255; class 0 has an empty row as the package does.
  for (let c = 0; c < 10; c++) {
    const rows: number[][] = Array.from({ length: 6 }, (_, i) => Array.from({ length: 784 }, (_, p) => (p === 0 ? 255 : (c * 10 + i) % 256)));
    if (c === 0) rows.splice(2, 0, []);
    await fs.writeFile(path.join(clothes, `${c}.json`), JSON.stringify({ data: rows }));
  }
  const per = { train: 3, val: 1, test: 2 };
  const a = await loadFashionMnist(root, per);
  assert.equal(a.classes, 10);
  assert.deepEqual([a.train.images.length, a.val.images.length, a.test.images.length], [30, 10, 20]);
  assert.deepEqual(a.train.labels.slice(0, 6), [0, 0, 0, 1, 1, 1]);
  const seen = new Set<number>();
  for (const split of [a.train, a.val, a.test])
    split.images.forEach((im, j) => {
      assert.equal(im.length, 32 * 32 * 3);
      assert.equal(im[0], 255, 'the 2-px border is white');
      assert.equal(im[(2 * 32 + 2) * 3], 0, 'the first pixel (255) inverted');
      const v = 255 - im[(10 * 32 + 10) * 3 + 1];
      assert.equal(Math.floor(v / 10), split.labels[j], 'the image of its class');
      seen.add(v);
    });
  assert.equal(seen.size, 60, 'every kept image once: the empty row skipped, no image in two splits');
  const b = await loadFashionMnist(root, per);
  assert.deepEqual(b.test.images, a.test.images, 'the same split every time');
  await assert.rejects(loadFashionMnist(root, { train: 5, val: 1, test: 1 }), /^Error: .*0\.json: 6 images, the subset needs 7 per class$/);
  await fs.rm(path.join(clothes, '3.json'));
  await assert.rejects(loadFashionMnist(root, per), /3\.json: not found; give --packages/);
  assert.deepEqual(Array.from(fashionToRgb(new Array(784).fill(0)).subarray(0, 3)), [255, 255, 255]);
  await fs.rm(root, { recursive: true });
});
