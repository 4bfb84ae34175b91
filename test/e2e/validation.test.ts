// Bad values are refused at the edge with one line naming the option and what to do, before any
// work starts (no run directory is created), instead of looping, aborting or writing NaN images.
import { cliWith, tinyRunFlags } from '../cli_helper.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { conditionalCheckpoint, tinyTrainingFixture } from '../train_helpers.js';
import { parseRange } from '../../src/generate.js';
import { testBackend } from '../helpers.js';
import { OptionError } from '../../src/files/option_error.js';
import { flagOf } from '../../src/train/option_table.js';

let dir: string, ckpt: string, data: string;
before(async () => {
  await testBackend();
  ({ dir, ckpt, data } = await tinyTrainingFixture('validation'));
});

const cli = cliWith({ timeout: 60_000 });

function refused(r: ReturnType<typeof cli>, pattern: RegExp) {
  assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stderr
    .trim()
    .split('\n')
    .filter((l) => !l.startsWith('backend:'));
  assert.equal(lines.length, 1, `one line, got: ${r.stderr}`);
  assert.match(lines[0], pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

test('seeds at or above 2^32 are refused (2^53 used to loop forever)', () => {
  assert.throws(() => parseRange('9007199254740992-9007199254740993'), /below 2\^32/);
  assert.deepEqual(parseRange('4294967295'), [4294967295]);
  refused(cli('generate', '--network', ckpt, '--seeds', '9007199254740992', '--outdir', path.join(dir, 'g1'), '--backend', 'cpu'), /--seeds .*below 2\^32/);
});

test('generate: --trunc x, --trunc-cutoff -1, --class 0.5', () => {
  refused(
    cli('generate', '--network', ckpt, '--seeds', '0', '--trunc', 'x', '--outdir', path.join(dir, 'g2'), '--backend', 'cpu'),
    /--trunc NaN: give a number/,
  );
  refused(
    cli('generate', '--network', ckpt, '--seeds', '0', '--trunc-cutoff', '-1', '--outdir', path.join(dir, 'g3'), '--backend', 'cpu'),
    /--trunc-cutoff -1/,
  );
  refused(cli('generate', '--network', ckpt, '--seeds', '0', '--class', '0.5', '--outdir', path.join(dir, 'g4'), '--backend', 'cpu'), /--class 0.5/);
});

test('fid --num NaN / 2.5 are refused before any work', () => {
  refused(cli('fid', '--network', ckpt, '--data', data, '--features', 'emoji', '--num', 'NaN', '--backend', 'cpu'), /--num NaN/);
  refused(cli('fid', '--network', ckpt, '--data', data, '--features', 'emoji', '--num', '2.5', '--backend', 'cpu'), /--num 2.5/);
});

test('finetune: --ada-kimg 0, --seed -1 / 0.5 / NaN, --k 1e-3 / 1e6, --backend wasm: refused, no run directory', async () => {
  const probes: [string[], RegExp][] = [
    [['--ada-kimg', '0'], /--ada-kimg 0 is invalid/],
    [['--seed', '-1'], /--seed -1 is invalid/],
    [['--seed', '0.5'], /--seed 0.5 is invalid/],
    [['--seed', 'NaN'], /--seed null is invalid|--seed NaN/],
    [['--k', '0.001'], /--k 0.001 is invalid: use 0.05 <= k <= 10000/],
    [['--k', '1000000'], /--k 1000000 is invalid/],
    [['--backend', 'wasm'], /--backend wasm cannot train/],
  ];
  for (const [extra, pattern] of probes) {
    const rd = path.join(dir, `run-${extra.join('')}`);
    refused(cli(...tinyRunFlags(ckpt, data, rd, '0.004', ...(extra[0] === '--backend' ? extra : [...extra, '--backend', 'cpu']))), pattern);
    assert.ok(!existsSync(rd), `${extra.join(' ')} created ${rd}`);
  }
  assert.deepEqual(
    (await fs.readdir(dir)).filter((f) => f.startsWith('run-')),
    [],
  );
});

test('an option given twice is refused, whichever command (it used to reach the reader as an array)', () => {
  refused(cli('generate', '--network', ckpt, '--network', ckpt, '--seeds', '0', '--outdir', path.join(dir, 'g5')), /--network was given 2 times; give it once/);
  refused(cli('finetune', '--data', data, '--run-dir', 'a', '--run-dir', 'b'), /--run-dir was given 2 times/);
  const r = cli('generate');
  assert.equal((r.stderr.match(/see --help/g) ?? []).length, 1, r.stderr);
});

test('an output folder that is a file, or under one, is refused before any work', async () => {
  const file = path.join(dir, 'a-file');
  await fs.writeFile(file, 'x');
  refused(
    cli('generate', '--network', ckpt, '--seeds', '0', '--outdir', file, '--backend', 'cpu'),
    /--outdir .*a-file is a file, not a folder; choose another --outdir/,
  );
  refused(
    cli('generate', '--network', ckpt, '--seeds', '0', '--outdir', path.join(file, 'sub'), '--backend', 'cpu'),
    /--outdir .*a-file\/sub lies under .*a-file, which is a file/,
  );
  refused(
    cli('finetune', '--network', ckpt, '--data', data, '--outdir', file, '--kimg', '0.004', '--backend', 'cpu'),
    /--outdir .*a-file is a file, not a folder/,
  );
  refused(
    cli('finetune', '--network', ckpt, '--data', data, '--run-dir', path.join(file, 'run'), '--kimg', '0.004', '--backend', 'cpu'),
    /--run-dir .*a-file\/run lies under .*a-file, which is a file/,
  );
  refused(cli('compare', path.join(dir, 'no-run'), '--features', 'emoji', '--out', file, '--backend', 'cpu'), /--out .*a-file is a file/);
  // compare: an existing output is refused before the evaluation, not after it.
  const out = path.join(dir, 'cmp');
  await fs.mkdir(out);
  await fs.writeFile(path.join(out, 'fed.svg'), '<svg/>');
  refused(cli('compare', path.join(dir, 'no-run'), '--features', 'emoji', '--out', out, '--backend', 'cpu'), /cmp\/fed\.svg already exists; add --force/);
});

test('--grid too large for memory is refused with the largest grid that fits', () => {
  refused(
    cli('generate', '--network', ckpt, '--seeds', '0', '--grid', '100000x100000', '--outdir', path.join(dir, 'g6'), '--backend', 'cpu'),
    /--grid 100000x100000 of 16px images makes a 1600000x1600000 picture; keep it within 16384 px a side \(up to 1024x1024 at 16px\)/,
  );
  const rd = path.join(dir, 'run-grid');
  refused(
    cli('finetune', '--network', ckpt, '--data', data, '--run-dir', rd, '--grid', '5000x5000', '--kimg', '0.004', '--backend', 'cpu'),
    /--grid 5000x5000 of 16px images/,
  );
  assert.ok(!existsSync(rd));
  refused(
    cli('interpolate', '--network', ckpt, '--seeds', '0,1', '--grid', '2000x1', '--out', path.join(dir, 'walk.webp'), '--backend', 'cpu'),
    /--grid 2000x1 of \d+px images makes a \d+x\d+ picture/,
  );
});

test('malformed dataset.json entries are named, not crashed on', async () => {
  const cond = await conditionalCheckpoint(dir); // a conditional network reads labels
  const folder = path.join(dir, 'labelled');
  await fs.cp(data, folder, { recursive: true });
  const files = (await fs.readdir(folder)).filter((f) => f.endsWith('.png'));
  for (const [labels, pattern] of [
    [[[1, 0], ...files.map((f) => [f, 0])], /dataset\.json: labels\[0\] is \[1,0\]; each entry must be \[relative path, class index or list of numbers\]/],
    [[[files[0], 'cat']], /labels\[0\] is \[".*","cat"\]/],
    [5, /expected \{"labels": \[\[path, label\], \.\.\.\]\}/],
  ] as [unknown, RegExp][]) {
    await fs.writeFile(path.join(folder, 'dataset.json'), JSON.stringify({ labels }));
    refused(cli('fid', '--network', cond, '--data', folder, '--features', 'emoji', '--num', '4', '--backend', 'cpu'), pattern);
  }
});

test('options resolve in one library function: defaults, derived values, and the resume rule', async () => {
  const { resolveTrainingOptions, resumeTrainingOptions, trainerOptions } = await import('../../src/train/options.js');
  const { DEFAULTS, UPSTREAM_CONSTANTS } = await import('../../src/train/defaults.js');
  const { scratchConfigs } = await import('../../src/train/options.js');
  const sc = scratchConfigs({ res: 16 });
  const o = resolveTrainingOptions({ data: 'd', batch: 8 }, { G_kwargs: sc.G, D_kwargs: sc.D }, 'cpu');
  assert.equal(o.gamma, (DEFAULTS.gammaPerPixel * 16 * 16) / 8);
  assert.equal(o.emaKimg, (8 * 10) / 32);
  assert.equal(o.batchGpu, 8);
  assert.equal(o.loss, 'rooted');
  assert.equal(o.k, 2);
  const t = trainerOptions(o);
  assert.equal(t.gRegInterval, UPSTREAM_CONSTANTS.gRegInterval);
  assert.deepEqual([t.beta1, t.beta2, t.eps], [0, 0.99, 1e-8]);
  // The batch per step must split into minibatch-std groups: the default group (4) when the
  // network's config leaves it out, none when it is the whole batch (null).
  const { epilogue_kwargs: _, ...noEpilogue } = sc.D;
  assert.throws(
    () => resolveTrainingOptions({ data: 'd', batch: 6 }, { G_kwargs: sc.G, D_kwargs: noEpilogue }, 'cpu'),
    /options\.batchGpu 6 is invalid: must be a multiple of the minibatch-stddev group size 4/,
  );
  const wholeBatch = { ...sc.D, epilogue_kwargs: { mbstd_group_size: null } };
  assert.equal(resolveTrainingOptions({ data: 'd', batch: 6 }, { G_kwargs: sc.G, D_kwargs: wholeBatch }, 'cpu').batchGpu, 6);
  // D's minibatch-stddev group: fine-tuning may set it (the network's otherwise), from scratch too;
  // the network's config is not changed under it. Architecture options with a network are refused.
  const m32 = resolveTrainingOptions({ data: 'd', batch: 32, mbstd: 32 }, { G_kwargs: sc.G, D_kwargs: sc.D }, 'cpu');
  assert.deepEqual(
    [m32.D_kwargs.epilogue_kwargs?.mbstd_group_size, sc.D.epilogue_kwargs?.mbstd_group_size, o.D_kwargs.epilogue_kwargs?.mbstd_group_size],
    [32, 4, 4],
  );
  assert.equal(resolveTrainingOptions({ data: 'd', batch: 8, mbstd: 8 }, null, 'cpu').D_kwargs.epilogue_kwargs?.mbstd_group_size, 8);
  for (const bad of [0, 2.5, -4])
    assert.throws(
      () => resolveTrainingOptions({ data: 'd', mbstd: bad }, null, 'cpu'),
      /^OptionError: options\.mbstd -?[0-9.]+ is invalid: .*a whole number from 1 to 4096/,
    );
  assert.throws(
    () => resolveTrainingOptions({ data: 'd', batch: 12, mbstd: 8 }, null, 'cpu'),
    /options\.batchGpu 12 is invalid: must be a multiple of the minibatch-stddev group size 8/,
  );
  assert.throws(
    () => resolveTrainingOptions({ data: 'd', cfg: { cmax: 64 } }, { G_kwargs: sc.G, D_kwargs: sc.D }, 'cpu'),
    /^OptionError: options\.cfg\.cmax is a from-scratch architecture option; fine-tuning keeps the network's architecture: drop options\.cfg\.cmax/,
  );
  // Resume: the schedule may change, the same value is accepted, anything else is refused.
  const r = resumeTrainingOptions(o, { data: '', batch: 8, kimg: 20, tick: 2 }, 'rd', 'cpu', 3);
  assert.deepEqual([r.kimg, r.tickKimg, r.batch, r.runDir, r.branches], [20, 2, 8, 'rd', undefined]);
  // The library names options by key; the CLI words the same error with flags.
  const seedError = (() => {
    try {
      resumeTrainingOptions(o, { data: '', seed: 7 }, 'rd', 'cpu', 3);
    } catch (e) {
      return e as OptionError;
    }
    assert.fail('a changed seed was accepted');
  })();
  assert.ok(seedError instanceof OptionError);
  assert.match(
    seedError.message,
    /options\.seed cannot change \(the run has 0\): only options\.kimg.*a branch \(options\.runDir\) also options\.loss, options\.k, options\.batch, options\.batchGpu, .*options\.styleMixing.*, and options\.cfg\.cbase\/options\.cfg\.cmax to widen the networks$/,
  );
  assert.match(
    seedError.words(flagOf),
    /^--resume continues a run with its own settings; --seed cannot change \(the run has 0\): only --kimg.*a branch \(--run-dir\) also --loss, --k, --batch, --batch-gpu, .*--style-mixing.*, and --cbase\/--cmax to widen the networks$/,
  );
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', batch: 4 }, 'rd', 'cpu', 3),
    /options\.batch cannot change in place \(the run has 8\): branch with options\.runDir NEW_DIR/,
  );
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', styleMixing: 0 }, 'rd', 'cpu', 3),
    /options\.styleMixing cannot change in place \(the run has 0\.9\): branch with options\.runDir NEW_DIR/,
  );
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', cfg: { res: 64 } }, 'rd', 'cpu', 3),
    /options\.cfg\.res \(a from-scratch architecture option\) cannot change/,
  );
  // A branch may change the objective, the batch and the regularization, and records what changed
  // and where; a second branch keeps the first one's record. The augmentation pipeline stays refused.
  const b = resumeTrainingOptions(o, { data: '', runDir: 'b1', styleMixing: 0, loss: 'logistic', ema: (8 / 32) * 10 }, 'b1', 'cpu', 3);
  assert.deepEqual([b.styleMixing, b.loss, b.runDir], [0, 'logistic', 'b1']);
  assert.deepEqual(b.branches, [{ from: o.runDir, kimg: 3, changed: { styleMixing: [0.9, 0], loss: ['rooted', 'logistic'] } }]);
  const b2 = resumeTrainingOptions(b, { data: '', runDir: 'b2', gamma: 0.5 }, 'b2', 'cpu', 5);
  assert.deepEqual(
    b2.branches?.map((x) => [x.from, x.kimg, Object.keys(x.changed)]),
    [
      [o.runDir, 3, ['styleMixing', 'loss']],
      ['b1', 5, ['gamma']],
    ],
  );
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', runDir: 'b3', augpipe: 'bg' }, 'b3', 'cpu', 3),
    /options\.augpipe cannot change \(the run has "bgc"\)/,
  );
  // A branch may change D's minibatch-stddev group (recorded); in place only to the same value.
  const bm = resumeTrainingOptions(o, { data: '', runDir: 'bm', mbstd: 8 }, 'bm', 'cpu', 3);
  assert.deepEqual([bm.D_kwargs.epilogue_kwargs?.mbstd_group_size, bm.branches?.[0].changed], [8, { mbstd: [4, 8] }]);
  assert.equal(o.D_kwargs.epilogue_kwargs?.mbstd_group_size, 4, 'the saved options are not changed');
  assert.equal(resumeTrainingOptions(o, { data: '', mbstd: 4 }, 'rd', 'cpu', 3).branches, undefined);
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', mbstd: 8 }, 'rd', 'cpu', 3),
    /options\.mbstd cannot change in place \(the run has 4\): branch with options\.runDir/,
  );
  assert.throws(() => resumeTrainingOptions(o, { data: '', runDir: 'bm2', mbstd: 0 }, 'bm2', 'cpu', 3), /options\.mbstd 0 is invalid/);
  // A new batch takes the one-step split with it, unless --batch-gpu says otherwise.
  const b4 = resumeTrainingOptions(o, { data: '', runDir: 'b4', batch: 16 }, 'b4', 'cpu', 3);
  assert.deepEqual([b4.batch, b4.batchGpu, b4.branches?.[0].changed], [16, 16, { batch: [8, 16], batchGpu: [8, 16] }]);
  const b5 = resumeTrainingOptions(o, { data: '', runDir: 'b5', batch: 16, batchGpu: 8 }, 'b5', 'cpu', 3);
  assert.deepEqual([b5.batch, b5.batchGpu, b5.branches?.[0].changed], [16, 8, { batch: [8, 16] }]);
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', runDir: 'b6', batch: 6 }, 'b6', 'cpu', 3),
    /options\.batchGpu 6 is invalid: must be a multiple of the minibatch-stddev group size 4/,
  );
  assert.throws(
    () => resumeTrainingOptions(o, { data: '', runDir: 'b3', styleMixing: 2 }, 'b3', 'cpu', 3),
    /options\.styleMixing 2 is invalid: must be in \[0, 1\]/,
  );
  // No command module reads process.argv (the rule lives in the library, not in the CLI).
  const { readdirSync, readFileSync } = await import('node:fs');
  const cliDir = path.resolve('src/cli');
  for (const f of readdirSync(cliDir).filter((n) => n.endsWith('.ts') && n !== 'main.ts')) {
    assert.doesNotMatch(readFileSync(path.join(cliDir, f), 'utf8'), /process\.argv/, `${f} reads process.argv`);
  }
});

test('finetune --resume with a different training option is refused; with the same one it continues', async () => {
  const rd = path.join(dir, 'resume-rule');
  const first = cli('finetune', '--network', ckpt, '--data', data, '--run-dir', rd, '--kimg', '0.004', '--batch', '4', '--backend', 'cpu');
  assert.equal(first.status, 0, first.stderr);
  refused(
    cli('finetune', '--resume', rd, '--batch', '8', '--backend', 'cpu'),
    /--resume continues a run with its own settings; --batch cannot change in place \(the run has 4\): branch with --run-dir NEW_DIR/,
  );
  const same = cli('finetune', '--resume', rd, '--batch', '4', '--kimg', '0.008', '--backend', 'cpu');
  assert.equal(same.status, 0, same.stderr);
  assert.match(same.stderr, /resumed at kimg 0\.004/);
});

test('NaN or infinite weights are refused by name (they used to give all-black images and exit 0)', async () => {
  const { readSafetensors, writeSafetensors } = await import('../../src/formats/safetensors.js');
  const st = await readSafetensors(ckpt);
  const w = st.tensors.get('G_ema/synthesis.b8.conv0.weight')!;
  (w.data as Float32Array)[3] = Number.POSITIVE_INFINITY;
  const bad = path.join(dir, 'inf.safetensors');
  await writeSafetensors(bad, st.tensors, st.metadata);
  refused(
    cli('generate', '--network', bad, '--seeds', '0', '--outdir', path.join(dir, 'g-inf'), '--backend', 'cpu'),
    /inf\.safetensors: parameter 'synthesis\.b8\.conv0\.weight' holds Infinity at index 3: the network file is corrupt/,
  );
  assert.ok(!existsSync(path.join(dir, 'g-inf', 'seed0000.png')));
});
