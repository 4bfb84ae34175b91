// Progress: on a terminal (a pseudo-terminal from util-linux's `script`) finetune draws a progress
// bar within each tick (images, images/s, ETA); piped, it prints one line per tick and no bar.
import { CLI, tinyRunFlags } from '../cli_helper.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { tinyTrainingFixture } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

let dir: string, ckpt: string, data: string;
before(async () => {
  await testBackend();
  ({ dir, ckpt, data } = await tinyTrainingFixture('progress'));
});

const args = (rd: string) => [CLI, ...tinyRunFlags(ckpt, data, rd, '0.016', '--tick', '0.008', '--backend', 'cpu')];

test('a TTY gets a progress bar with images/s and ETA; a pipe gets one line per tick', {
  skip: existsSync('/usr/bin/script') ? false : 'util-linux script is not installed',
}, async () => {
  const log = path.join(dir, 'tty.txt');
  const cmd = [process.execPath, ...args(path.join(dir, 'tty'))].map((a) => `'${a}'`).join(' ');
  const r = spawnSync('script', ['-qec', cmd, log], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const tty = await fs.readFile(log, 'utf8');
  assert.match(tty, /tick 0 \S+ \d+\/8 img \| [\d.]+ img\/s \| ETA \d+:\d\d:\d\d/);
  assert.match(tty, /tick 1 +kimg 0\.016/);
  const piped = spawnSync(process.execPath, args(path.join(dir, 'pipe')), { encoding: 'utf8', timeout: 120_000 });
  assert.equal(piped.status, 0, piped.stderr);
  assert.doesNotMatch(piped.stderr, /img\/s/);
  assert.equal((piped.stderr.match(/^tick \d+ /gm) ?? []).length, 2);
  assert.doesNotMatch(piped.stderr, /ETA -/, 'no negative ETA on the last tick');
});
