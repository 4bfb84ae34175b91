// fid and compare with the fixture Inception network (closed-form weights, test/inception.test.ts):
// two tiny runs (rooted and logistic) from the tiny16 network; the table, CSV and plot must agree
// with FIDs computed directly; `finetune --metrics fid` records the same value compare reports.
import { cliWith } from '../cli_helper.js';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { PNG } from 'pngjs';
import { finetune } from '../../src/train/run.js';
import { InceptionV3 } from '../../src/metrics/inception.js';
import { distances, folderFeatures, generatorFeatures } from '../../src/metrics/evaluate.js';
import { compareRuns, toCsv, formatTable } from '../../src/metrics/compare.js';
import { PLOT_COLORS, plotSvg, textWidth } from '../../src/report/plots.js';
import { writeComparison } from '../../src/report/compare_page.js';
import { buildGenerator, loadNetwork } from '../../src/io/network.js';
import { serializeSafetensors } from '../../src/formats/safetensors.js';
import { loadInceptionWeights } from '../../src/metrics/weights.js';
import { fixtureStateDict } from '../inception_fixture.js';
import { imageFolder, tempDir, tiny16Checkpoint } from '../train_helpers.js';
import { testBackend } from '../helpers.js';
import { defaultEmojiFeaturesPath, loadFeatureNetwork } from '../../src/metrics/features.js';

let dir: string, weights: string, net: InceptionV3, runs: string[], data: string;
const NUM = 2;

before(async () => {
  await testBackend();
  dir = await tempDir('compare');
  const sd = fixtureStateDict();
  weights = path.join(dir, 'inception-fixture.safetensors');
  await fs.writeFile(weights, serializeSafetensors(new Map([...sd].map(([k, v]) => [k, { shape: v.shape, data: v.data }]))));
  net = new InceptionV3(await loadInceptionWeights(weights));
  const ckpt = await tiny16Checkpoint(dir);
  data = await imageFolder(path.join(dir, 'data'), 4);
  runs = [];
  for (const loss of ['rooted', 'logistic'] as const) {
    const r = await finetune(
      {
        data,
        network: ckpt,
        outdir: path.join(dir, 'runs'),
        loss,
        batch: 4,
        kimg: 0.008,
        tick: 0.008,
        snap: 1,
        grid: [2, 2],
        backend: 'cpu',
        ...(loss === 'rooted' ? { metrics: ['fid'], metricsNum: NUM, inception: weights } : {}),
      },
      { log: () => {} },
    );
    runs.push(r.runDir);
  }
});

describe('compare', () => {
  test('table, CSV and plot agree with direct FID computations', async () => {
    const rows = await compareRuns(runs, net, { protocol: 'nvidia', num: NUM, seed: 0, cacheDir: null, includeStart: true, log: () => {} });
    assert.equal(rows.length, 4); // start + one snapshot per run
    const real = await folderFeatures(net, data, { protocol: 'nvidia', cacheDir: null });
    for (const r of rows) {
      const file = r.snapshot === 'start' ? path.join(dir, 'tiny16.safetensors') : path.join(dir, 'runs', r.run, r.snapshot);
      const G = buildGenerator(await loadNetwork(file));
      const d = await distances(real, await generatorFeatures(net, G, { num: NUM, seed: 0 }, { protocol: 'nvidia' }), 'nvidia');
      G.dispose();
      assert.ok(Math.abs(d.distance - r.value) <= 1e-9 * Math.abs(d.distance), `${r.run} ${r.snapshot}: ${r.value} vs direct ${d.distance}`);
      assert.equal(r.metric, 'FID');
      assert.ok(r.value > 0);
    }
    assert.deepEqual(
      rows.map((r) => [r.loss, r.k, r.kimg]),
      [
        ['rooted', 2, 0],
        ['rooted', 2, 0.008],
        ['logistic', null, 0],
        ['logistic', null, 0.008],
      ],
    );
    // The start rows are the same network and latents: the same FID.
    assert.equal(rows[0].value, rows[2].value);

    const table = formatTable(rows).split('\n');
    assert.match(table[0], /run\s+loss\s+k\s+kimg\s+FID\s+KID/);
    assert.equal(table.length, 2 + rows.length);
    const csv = toCsv(rows).trim().split('\n');
    assert.equal(csv[0], 'run,loss,k,kimg,snapshot,metric,value,kernel_metric,kernel,num,features');
    assert.equal(Number(csv[2].split(',')[6]), rows[1].value);

    const out = path.join(dir, 'cmp');
    const files = await writeComparison(rows, out);
    assert.deepEqual(
      files.map((f) => path.basename(f)),
      ['compare.csv', 'compare.json', 'fid.svg', 'fid.png'],
    );
    const png = PNG.sync.read(await fs.readFile(path.join(out, 'fid.png')));
    assert.equal(png.height, 420);
    // The legend is never clipped: every label ends inside the picture.
    const svg = await fs.readFile(path.join(out, 'fid.svg'), 'utf8');
    const width = Number(/<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    assert.equal(png.width, width);
    const labels = [...svg.matchAll(/<text x="([\d.]+)" y="[\d.]+">([^<]+)<\/text>/g)];
    assert.equal(labels.length, 2, 'one legend label per run');
    for (const [, x, text] of labels) assert.ok(Number(x) + textWidth(text) <= width, `legend label '${text}' is clipped at ${width} px`);
    const hasColor = (hex: string) => {
      const [r, g, b] = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
      for (let i = 0; i < png.data.length; i += 4)
        if (Math.abs(png.data[i] - r) < 8 && Math.abs(png.data[i + 1] - g) < 8 && Math.abs(png.data[i + 2] - b) < 8) return true;
      return false;
    };
    assert.ok(hasColor(PLOT_COLORS[0]) && hasColor(PLOT_COLORS[1]), 'one line color per run');
    await assert.rejects(writeComparison(rows, out), /compare\.csv already exists; use options\.force/);
  });

  test('finetune --metrics fid records the FID that compare reports', async () => {
    const rec = (await fs.readFile(path.join(runs[0], 'metric-fid.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    assert.equal(rec.length, 1);
    const rows = await compareRuns([runs[0]], net, { protocol: 'nvidia', num: NUM, cacheDir: null, log: () => {} });
    assert.equal(rows[0].value, rec[0].value); // read back, not recomputed
  });

  test('a branch that changed the loss starts its curve at the branch point, not at the parent start', async () => {
    // The rooted run (it records FID), branched at its 0.008-kimg snapshot into the logistic loss.
    const branch = path.join(dir, 'runs', 'branch-logistic');
    await finetune({ data, resume: runs[0], runDir: branch, loss: 'logistic', kimg: 0.012, backend: 'cpu' }, { log: () => {} });
    const o = { protocol: 'nvidia' as const, num: NUM, seed: 0, cacheDir: null, includeStart: true };
    const [parentStart, parentSnap] = await compareRuns([runs[0]], net, { ...o, log: () => {} });
    const notes: string[] = [];
    const rows = await compareRuns([branch], net, { ...o, log: (l) => notes.push(l) });
    assert.deepEqual(
      rows.map((r) => [r.loss, r.k, r.kimg, r.snapshot]),
      [
        ['logistic', null, 0.008, 'network-snapshot-0000.008.safetensors'],
        ['logistic', null, 0.012, 'network-snapshot-0000.012.safetensors'],
      ],
    );
    assert.equal(rows[0].value, parentSnap.value, "the branch point is the parent's snapshot");
    assert.notEqual(rows[0].value, parentStart.value);
    assert.ok(!notes.some((l) => /FID of network-snapshot/.test(l)), 'recorded values are read back, not recomputed');
    // Without the parent's snapshot the branch's curve starts at its own first snapshot, and says so.
    const parentFile = path.join(runs[0], 'network-snapshot-0000.008.safetensors');
    await fs.rename(parentFile, `${parentFile}.away`);
    try {
      const alone = await compareRuns([branch], net, { ...o, log: (l) => notes.push(l) });
      assert.deepEqual(
        alone.map((r) => r.kimg),
        [0.012],
      );
      assert.ok(notes.some((l) => /the snapshot it branched from \(.*0000\.008\.safetensors\) is not there; its curve starts at its first snapshot/.test(l)));
    } finally {
      await fs.rename(`${parentFile}.away`, parentFile);
    }
  });

  test('compare --features emoji: FED/KED rows and a fed plot, never labelled FID', {
    skip: existsSync(defaultEmojiFeaturesPath()) ? false : 'emoji feature network not built',
  }, async () => {
    const emoji = await loadFeatureNetwork({ kind: 'emoji' });
    try {
      const rows = await compareRuns(runs, emoji, { num: 8, kid: true, cacheDir: null, includeStart: true, log: () => {} });
      assert.equal(rows.length, 4);
      for (const r of rows) {
        assert.equal(r.metric, 'FED');
        assert.equal(r.kernelMetric, 'KED');
        assert.ok(Number.isFinite(r.value) && r.kernel !== null && Number.isFinite(r.kernel));
      }
      assert.match(formatTable(rows).split('\n')[0], /FED\s+KED/);
      const files = await writeComparison(rows, path.join(dir, 'cmp-emoji'));
      assert.deepEqual(
        files.map((f) => path.basename(f)),
        ['compare.csv', 'compare.json', 'fed.svg', 'fed.png'],
      );
      assert.doesNotMatch(await fs.readFile(files[2], 'utf8'), /FID/);
    } finally {
      emoji.dispose();
    }
  });

  test('CLI: fid of two folders, compare writes its files, missing weights are explained', async () => {
    const cli = cliWith({ env: { STYLEGAN_RLO_CACHE: path.join(dir, 'cache') } });
    const other = await imageFolder(path.join(dir, 'other'), 3, { width: 24, height: 24 });
    const r = cli('fid', data, other, '--inception', weights, '--json');
    assert.equal(r.status, 0, r.stderr);
    const d = JSON.parse(r.stdout);
    const direct = await distances(
      await folderFeatures(net, data, { protocol: 'nvidia', cacheDir: null }),
      await folderFeatures(net, other, { protocol: 'nvidia', cacheDir: null }),
      'nvidia',
    );
    assert.ok(Math.abs(d.fid - direct.distance) <= 1e-9 * direct.distance);
    const c = cli('compare', ...runs, '--inception', weights, '--num', String(NUM), '--out', path.join(dir, 'cmp-cli'));
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /rooted\s+2\s+0\.008/);
    // 4 and 3 images: a number, with a warning that it means little.
    assert.match(
      r.stderr,
      /^warning: FID from 4 and 3 images is mostly noise \(the kernel distance can even come out negative\); use at least 50 on each side$/m,
    );
    const missing = cli('fid', data, other, '--inception', path.join(dir, 'nope.pth'));
    assert.equal(missing.status, 1);
    assert.match(
      missing.stderr,
      /FID needs the Inception weights pt_inception-2015-12-05-6726825d\.pth .* download https:\/\/github\.com\/mseitzer\/pytorch-fid/,
    );
  });
});

test('plotSvg: a log axis spaces each factor of 10 equally and refuses distances <= 0', () => {
  const row = (kimg: number, value: number) => ({ run: 'r', loss: 'logistic', k: null, kimg, metric: 'FED', value, num: 8 });
  const rows = [row(0, 10), row(1, 100), row(2, 1000)];
  const ys = (svg: string) => [...svg.matchAll(/<circle cx="[\d.]+" cy="([\d.]+)"/g)].map((m) => Number(m[1]));
  const [a, b, c] = ys(plotSvg(rows, { logY: true }));
  assert.ok(a > b && b > c, 'larger distances are higher up');
  assert.ok(Math.abs(a - b - (b - c)) < 0.2, `log spacing: ${a} ${b} ${c}`);
  const [la, lb, lc] = ys(plotSvg(rows));
  assert.ok(Math.abs((lb - lc) / (la - lb) - 10) < 0.1, `linear: 100->1000 spans 10x 10->100: ${la} ${lb} ${lc}`);
  assert.match(plotSvg(rows, { logY: true }), /FED \(8 generated images, log scale\)/);
  assert.throws(() => plotSvg([row(0, 0), row(1, 5)], { logY: true }), /a logarithmic axis needs distances > 0/);
});

test('compare checks every input before evaluating: a cut record line is skipped with file and line, a truncated snapshot fails at once', async () => {
  const copies: string[] = [];
  for (const r of runs) {
    const c = path.join(dir, `checked-${path.basename(r)}`);
    await fs.cp(r, c, { recursive: true });
    copies.push(c);
  }
  const metric = path.join(copies[0], 'metric-fid.jsonl');
  await fs.appendFile(metric, '{"kimg": 0.008, "snapsh');
  const lines: string[] = [];
  const rows = await compareRuns(copies, net, { protocol: 'nvidia', num: NUM, seed: 0, cacheDir: null, log: (l) => lines.push(l) });
  assert.equal(rows.length, 2);
  assert.ok(lines.includes(`warning: ${metric} line 2 is not a metric record; skipped`), lines.join('\n'));
  // The second run's snapshot cut short: refused before the first run is evaluated.
  const snap = (await fs.readdir(copies[1])).find((f) => f.startsWith('network-snapshot-'))!;
  const file = path.join(copies[1], snap);
  await fs.truncate(file, (await fs.stat(file)).size - 1000);
  await fs.rm(metric);
  lines.length = 0;
  await assert.rejects(
    compareRuns(copies, net, { protocol: 'nvidia', num: NUM, seed: 0, cacheDir: null, log: (l) => lines.push(l) }),
    new RegExp(snap.replace('.', '\\.')),
  );
  assert.deepEqual(
    lines.filter((l) => / of network-snapshot/.test(l)),
    [],
    'nothing was evaluated first',
  );
});

test('a metric from too few images carries a warning (KED of 2 images used to print as a plain number)', async () => {
  const lines: string[] = [];
  await finetune(
    {
      data,
      network: path.join(dir, 'tiny16.safetensors'),
      runDir: path.join(dir, 'few-images'),
      batch: 4,
      kimg: 0.004,
      tick: 0.004,
      snap: 1,
      grid: [2, 2],
      backend: 'cpu',
      metrics: ['fid'],
      metricsNum: NUM,
      inception: weights,
    },
    { log: (l) => lines.push(l) },
  );
  assert.ok(
    lines.includes(`warning: FID from 4 and ${NUM} images is mostly noise (the kernel distance can even come out negative); use at least 50 on each side`),
    lines.join('\n'),
  );
});
