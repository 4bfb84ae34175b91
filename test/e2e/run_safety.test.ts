// Nothing lost, nothing silently wrong, around the run directory: a resumed snapshot outside a run
// directory leaves the folder around it alone; one process at a time per run directory (a lock
// that names its holder and that a crashed holder does not leave stuck); a full disk leaves no
// temporary file and names what was lost; a grid a kill left unwritten is redrawn on resume;
// non-finite numbers are refused; data folders with FIFOs, non-UTF-8 names and symlinks.
import { CLI, cli, untilMapped } from '../cli_helper.js';
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { finetune } from '../../src/train/run.js';
import type { FinetuneArgs } from '../../src/records.js';
import { listSnapshots } from '../../src/io/run_layout.js';
import { loadNetwork } from '../../src/io/network.js';
import { lockRunDir, runDirHolder } from '../../src/io/run_lock.js';
import { ImageDataset, listImageFiles } from '../../src/data/dataset.js';
import { imageFolder, tinyTrainingFixture, assertNoDeadRunDir } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

let dir: string, ckpt: string, data: string;
const quiet = { log: () => {} };
before(async () => {
  await testBackend();
  ({ dir, ckpt, data } = await tinyTrainingFixture('safety'));
});

const base = (over: Partial<FinetuneArgs> = {}): FinetuneArgs => ({
  data,
  network: ckpt,
  outdir: path.join(dir, 'runs'),
  batch: 4,
  kimg: 0.008,
  tick: 0.004,
  snap: 1,
  grid: [2, 2],
  backend: 'cpu',
  ...over,
});

/** A finished short run (two snapshots): its directory. */
async function shortRun(name: string): Promise<string> {
  const r = await finetune(base({ runDir: path.join(dir, name) }), quiet);
  assert.equal(r.stopped, 'done');
  return r.runDir;
}

describe('resume and the run directory', () => {
  test("--resume FILE in the user's own folder trains in a new run directory and changes nothing there", async () => {
    const run = await shortRun('for-user-folder');
    const mine = path.join(dir, 'my-folder');
    await fs.mkdir(mine);
    const snap = (await listSnapshots(run))[0].file; // the earlier snapshot: the run continues from it
    await fs.copyFile(snap, path.join(mine, path.basename(snap)));
    const own: Record<string, string> = {
      'stats.jsonl': '{"kimg": 99, "mine": true}\n{"kimg": 100}\n',
      'metric-fed.jsonl': '{"kimg": 5, "value": 1}\n',
      'index.html': '<p>my page</p>\n',
      'log.txt': 'my notes\n',
    };
    for (const [f, t] of Object.entries(own)) await fs.writeFile(path.join(mine, f), t);
    const before = (await fs.readdir(mine)).sort();
    const lines: string[] = [];
    const r = await finetune(
      { data: '', resume: path.join(mine, path.basename(snap)), outdir: path.join(dir, 'resumed-runs'), backend: 'cpu' },
      { log: (l) => lines.push(l) },
    );
    assert.equal(r.stopped, 'done');
    assert.equal(path.dirname(r.runDir), path.join(dir, 'resumed-runs'));
    assert.ok(
      lines.some((l) => /in a new run directory .*: .*my-folder is not a run directory \(no training_options\.json\), so nothing in it is changed/.test(l)),
    );
    assert.deepEqual((await fs.readdir(mine)).sort(), before, 'no file added or removed');
    for (const [f, t] of Object.entries(own)) assert.equal(await fs.readFile(path.join(mine, f), 'utf8'), t, `${f} unchanged`);
    // The continuation is exact: it ends with the same networks as the original run.
    const a = await loadNetwork((await listSnapshots(run)).at(-1)!.file);
    const b = await loadNetwork((await listSnapshots(r.runDir)).at(-1)!.file);
    assert.equal((await listSnapshots(r.runDir)).at(-1)!.kimg, (await listSnapshots(run)).at(-1)!.kimg);
    for (const [k, t] of a.G_ema!) assert.deepEqual(b.G_ema!.get(k)!.data, t.data, k);
  });

  test('a run directory in use is refused at once, naming the holder; a crashed holder does not leave it stuck', async () => {
    const run = await shortRun('locked');
    const stats = await fs.readFile(path.join(run, 'stats.jsonl'), 'utf8');
    const lock = await lockRunDir(run, 'test');
    const t0 = Date.now();
    await assert.rejects(
      finetune({ data: '', resume: run, kimg: 0.012, backend: 'cpu' }, quiet),
      new RegExp(`is in use by process ${process.pid} on ${os.hostname()} \\(since .*\\); wait for it to finish or stop it before you resume`),
    );
    assert.ok(Date.now() - t0 < 5000, 'refused before any training');
    assert.equal(await fs.readFile(path.join(run, 'stats.jsonl'), 'utf8'), stats, 'nothing read or written');
    assert.deepEqual(await runDirHolder(run), JSON.parse(await fs.readFile(lock.file, 'utf8')));
    await lock.release();
    assert.equal(await runDirHolder(run), null);
    // A holder that died (its pid is gone) left its lock: the next resume takes it over.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    await fs.writeFile(path.join(run, '.lock'), JSON.stringify({ pid: Number(dead.stdout), host: os.hostname(), since: 'x' }));
    const r = await finetune({ data: '', resume: run, kimg: 0.012, backend: 'cpu' }, quiet);
    assert.equal(r.stopped, 'done');
    await assert.rejects(fs.stat(path.join(run, '.lock')), 'released at the end');
    // A holder on another host: fresh means alive, silent for long means gone.
    await fs.writeFile(path.join(run, '.lock'), JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x' }));
    await assert.rejects(finetune({ data: '', resume: run, kimg: 0.016, backend: 'cpu' }, quiet), /in use by process 1 on elsewhere/);
    const old = new Date(Date.now() - 3600_000);
    await fs.utimes(path.join(run, '.lock'), old, old);
    assert.equal((await finetune({ data: '', resume: run, kimg: 0.016, backend: 'cpu' }, quiet)).stopped, 'done');
  });

  test('two resumes of one run at once: one trains, the other is refused; no kimg is logged twice', async () => {
    const run = await shortRun('twice');
    const results = await Promise.allSettled([
      finetune({ data: '', resume: run, kimg: 0.016, backend: 'cpu' }, quiet),
      finetune({ data: '', resume: run, kimg: 0.016, backend: 'cpu' }, quiet),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.match(failed.reason.message, /is in use by process/);
    const kimgs = (await fs.readFile(path.join(run, 'stats.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l).kimg);
    assert.equal(new Set(kimgs).size, kimgs.length, `each kimg once: ${kimgs}`);
    // Through the CLI, in two processes.
    const a = spawn(process.execPath, [CLI, 'finetune', '--resume', run, '--kimg', '0.04', '--backend', 'cpu'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let errA = '';
    a.stderr.on('data', (d) => {
      errA += d;
    });
    while (!/^backend: /m.test(errA)) await new Promise((r) => setTimeout(r, 50));
    const b = cli('finetune', '--resume', run, '--kimg', '0.04');
    assert.equal(b.status, 1);
    assert.match(b.stderr, new RegExp(`^stylegan-rlo: .*twice is in use by process ${a.pid} on `));
    a.kill('SIGTERM');
    assert.equal(await new Promise((r) => a.on('exit', r)), 0, errA);
  });

  test('a grid that a kill left unwritten is redrawn on resume', async () => {
    const run = await shortRun('grids');
    const snaps = await listSnapshots(run);
    const grids = (await fs.readdir(run)).filter((f) => /^fakes\d/.test(f));
    assert.equal(grids.length, snaps.length);
    await fs.rm(path.join(run, grids.at(-1)!)); // as if killed between the snapshot and its grid
    await fs.rm(path.join(run, grids[0]));
    const lines: string[] = [];
    await finetune({ data: '', resume: run, kimg: 0.012, backend: 'cpu' }, { log: (l) => lines.push(l) });
    for (const g of grids) await fs.stat(path.join(run, g));
    assert.ok(
      lines.some((l) => l.startsWith(`redrew 2 grids that an earlier stop left unwritten: ${grids[0]}, ${grids.at(-1)}`)),
      lines.join('\n'),
    );
    assert.match(await fs.readFile(path.join(run, 'index.html'), 'utf8'), /kimg 0\.004/, 'the report shows the redrawn grid');
  });
});

test('a metric record that a kill left unwritten is evaluated on resume', async () => {
  const r = await finetune(base({ runDir: path.join(dir, 'metrics-lost'), metrics: ['fed'], metricsNum: 8 }), quiet);
  const file = path.join(r.runDir, 'metric-fed.jsonl');
  const recs = (await fs.readFile(file, 'utf8')).trim().split('\n');
  assert.equal(recs.length, 2);
  await fs.writeFile(file, `${recs[0]}\n`); // as if killed between the last snapshot and its evaluation
  const lines: string[] = [];
  await finetune({ data: '', resume: r.runDir, kimg: 0.012, backend: 'cpu' }, { log: (l) => lines.push(l) });
  assert.ok(
    lines.some((l) => l === 'evaluated 1 snapshot whose metrics an earlier stop left unwritten: network-snapshot-0000.008.safetensors'),
    lines.join('\n'),
  );
  const after = (await fs.readFile(file, 'utf8'))
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  assert.deepEqual(after.map((x) => x.snapshot).sort(), [
    'network-snapshot-0000.004.safetensors',
    'network-snapshot-0000.008.safetensors',
    'network-snapshot-0000.012.safetensors',
  ]);
  assert.equal(after.find((x) => x.snapshot.endsWith('0.008.safetensors')).value, JSON.parse(recs[1]).value, 'the same value as before the loss');
});

describe('a full disk', () => {
  // A small tmpfs makes the disk full for real; mounting needs root (CI runs as root).
  const mnt = path.join(os.tmpdir(), `rlo-full-${process.pid}`);
  let mounted = false;
  before(async () => {
    await fs.mkdir(mnt, { recursive: true });
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', mnt]).status === 0;
  });

  test('a snapshot that does not fit: no temporary file left, the error names it and the last good one', {
    skip: process.getuid?.() !== 0 && 'mounting a tmpfs needs root',
  }, async (t) => {
    if (!mounted) return t.skip('mount -t tmpfs failed here');
    try {
      const runDir = path.join(mnt, 'run');
      let filled = false;
      const fill = async () => {
        if (filled || !(await listSnapshots(runDir).catch(() => [])).length) return;
        filled = true;
        // Fill the disk to the last byte, then give back a little: the small appends of a tick fit,
        // the next snapshot does not.
        const fh = await fs.open(path.join(mnt, 'filler'), 'w');
        let size = 0;
        const chunk = Buffer.alloc(64 * 1024);
        try {
          for (;;) size += (await fh.write(chunk)).bytesWritten;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
        }
        await fh.truncate(Math.max(0, size - 48 * 1024));
        await fh.close();
      };
      let pending: Promise<void> = Promise.resolve();
      let message = '';
      await assert.rejects(finetune(base({ runDir, kimg: 0.04 }), { ...quiet, progress: () => (pending = pending.then(fill)) }), (e: Error) => {
        message = e.message;
        return true;
      });
      // Either the snapshot itself did not fit, or a record or grid before it: each names what was lost.
      const m =
        /^snapshot (.*network-snapshot-(\S+)\.safetensors) was not saved \(the disk is full\); the last good snapshot is (.*network-snapshot-(\S+)\.safetensors) \(kimg [\d.]+\)$/.exec(
          message,
        ) ??
        /^the disk of .* is full \(ENOSPC.*\); training stopped at kimg (\S+) and the work since the last snapshot is lost; the last good snapshot is (.*network-snapshot-(\S+)\.safetensors) \(kimg [\d.]+\)$/.exec(
          message,
        );
      assert.ok(m, message);
      const good = m.length === 5 ? m[3] : m[2];
      assert.ok((await loadNetwork(good)).training, 'the last good snapshot loads, with its training state');
      if (m.length === 5) await assert.rejects(fs.stat(m[1]), 'the lost snapshot is not there, not even in part');
      const left = await fs.readdir(runDir);
      assert.deepEqual(
        left.filter((f) => f.endsWith('.tmp')),
        [],
        `temporary files left: ${left}`,
      );
    } finally {
      spawnSync('umount', [mnt]);
    }
  });
});

describe('inputs checked before work starts', () => {
  test('non-finite numbers are refused like NaN, naming the flag as typed', () => {
    for (const [args, want] of [
      [['--lr', 'Infinity'], /--lr Infinity is invalid: must be a finite number > 0/],
      [['--glr', '1e400'], /--glr Infinity is invalid/],
      [['--gamma', 'Infinity'], /--gamma Infinity is invalid: must be a finite number >= 0/],
      [['--k', 'NaN'], /--k NaN is invalid/],
    ] as const) {
      const out = path.join(dir, 'nonfinite-runs');
      const r = cli('finetune', '--network', ckpt, '--data', data, '--outdir', out, ...args);
      assert.equal(r.status, 1, r.stderr);
      assert.match(r.stderr, want);
      assert.ok(!r.stderr.includes('null'), r.stderr);
      assert.equal(spawnSync('ls', [out]).status !== 0, true, 'no run directory');
    }
  });

  test('data folders: FIFOs are never opened, non-UTF-8 names are read, symlinked folders followed, loops reported; all in log.txt', async () => {
    const d = await imageFolder(path.join(dir, 'odd-data'), 3);
    execFileSync('mkfifo', [path.join(d, 'pipe.png')]);
    // A PNG whose name is Latin-1 bytes (not UTF-8): é as the single byte 0xe9.
    const latin = Buffer.concat([Buffer.from(`${d}/caf`), Buffer.from([0xe9]), Buffer.from('.png')]);
    await fs.copyFile(path.join(d, 'img000.png'), latin);
    const sub = await imageFolder(path.join(dir, 'elsewhere'), 2);
    await fs.symlink(sub, path.join(d, 'linked'));
    await fs.symlink(d, path.join(sub, 'back')); // a loop: elsewhere/back -> odd-data
    await fs.symlink(path.join(dir, 'nowhere.png'), path.join(d, 'broken.png'));
    const listing = await listImageFiles(d);
    assert.equal(listing.files.length, 6, `files: ${listing.files.map(String)}`);
    assert.ok(
      listing.files.some((f) => Buffer.isBuffer(f) && f.equals(latin)),
      'the Latin-1 name kept as bytes',
    );
    const reasons = listing.skipped.map((s) => `${path.basename(s.file)}: ${s.reason}`).sort();
    assert.deepEqual(reasons, [
      'back: a link back to a folder already read (a loop); not followed',
      'broken.png: a broken symbolic link',
      'pipe.png: not a regular file (a FIFO, socket or device); not opened',
    ]);
    assert.ok(listing.skipped.every((s) => !s.file.includes('\ufffd')));
    const ds = await ImageDataset.load(d, { resolution: 16, channels: 3 });
    assert.equal(ds.report.used, 6);
    const lines: string[] = [];
    const r = await finetune(base({ data: d, kimg: 0.004 }), { log: (l) => lines.push(l) });
    assert.equal(r.stopped, 'done');
    const warn = lines.filter((l) => l.startsWith('warning: skipped'));
    assert.equal(warn.length, 1);
    assert.match(warn[0], /skipped 3 other entries in .* \(first: .*; all are listed in log\.txt\)/);
    const log = await fs.readFile(path.join(r.runDir, 'log.txt'), 'utf8');
    assert.match(log, /, 6 images from /);
    for (const f of ['pipe.png', 'broken.png', 'back']) assert.match(log, new RegExp(`^skipped: .*${f.replace('.', '\\.')}: `, 'm'));
  });

  test('SIGTERM while the data loads exits at once (a FIFO in the folder used to hang it for good)', async () => {
    const d = await imageFolder(path.join(dir, 'fifo-data'), 150);
    execFileSync('mkfifo', [path.join(d, 'zzz.png')]);
    const rd = path.join(dir, 'sigterm-loading');
    const child = spawn(
      process.execPath,
      [CLI, 'finetune', '--network', ckpt, '--data', d, '--run-dir', rd, '--batch', '4', '--kimg', '1', '--backend', 'cpu'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let err = '';
    child.stderr.on('data', (x) => {
      err += x;
    });
    // Once the backend has started (its native kernels load then, after the command installed its
    // signal handlers; a fixed delay raced node's start-up on a loaded machine), and a moment more,
    // into the data loading.
    await untilMapped(child.pid!, '/rlo_native.node');
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    child.kill('SIGTERM');
    const code = await new Promise((r) => child.on('exit', r));
    assert.ok(Date.now() - t0 < 15_000, `exited ${Date.now() - t0} ms after SIGTERM`);
    assert.equal(code, 0, err);
    await assertNoDeadRunDir(rd, err);
  });
});
