// Bad values are refused at the edge with one line naming the option and what to do, before any
// work starts (no run directory is created), instead of looping, aborting or writing NaN images.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { tinyTrainingFixture } from './train_helpers.js';
import { parseRange } from '../src/generate.js';
import { testBackend } from './helpers.js';

let dir: string, ckpt: string, data: string;
before(async () => {
  await testBackend();
  ({ dir, ckpt, data } = await tinyTrainingFixture('validation'));
});

const cli = (...args: string[]) => spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), ...args], { encoding: 'utf8', timeout: 60_000 });

function refused(r: ReturnType<typeof cli>, pattern: RegExp) {
  assert.equal(r.status, 1, `exit ${r.status}: ${r.stderr}`);
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('backend:'));
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
  refused(cli('generate', '--network', ckpt, '--seeds', '0', '--trunc', 'x', '--outdir', path.join(dir, 'g2'), '--backend', 'cpu'), /--trunc NaN: give a number/);
  refused(cli('generate', '--network', ckpt, '--seeds', '0', '--trunc-cutoff', '-1', '--outdir', path.join(dir, 'g3'), '--backend', 'cpu'), /--trunc-cutoff -1/);
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
    refused(cli('finetune', '--network', ckpt, '--data', data, '--run-dir', rd, '--kimg', '0.004', '--batch', '4', ...(extra[0] === '--backend' ? extra : [...extra, '--backend', 'cpu'])), pattern);
    assert.ok(!existsSync(rd), `${extra.join(' ')} created ${rd}`);
  }
  assert.deepEqual((await fs.readdir(dir)).filter((f) => f.startsWith('run-')), []);
});
