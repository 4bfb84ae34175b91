// fetch against a server on 127.0.0.1: progress, a broken download resumed with a Range request,
// checksum verification, offline errors, manifest names, and the CLI's `info`/`convert`.
import { cli } from '../cli_helper.js';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fetchNetwork, progressReporter } from '../../src/io/fetch.js';
import { FIXTURES } from '../helpers.js';
import { tempDir } from '../train_helpers.js';

// A body that starts as a pickle does (protocol 2): fetch refuses content that is no network file.
const body = Buffer.alloc(300_000, 0).map((_, i) => (i < 2 ? [0x80, 2][i] : (i * 31 + 7) & 0xff));
const sha = createHash('sha256').update(body).digest('hex');
let server: http.Server;
let base: string;
let dropAfter: number | null = null; // bytes served before dropping the connection (once)
const ranges: string[] = [];
const requests: string[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url === '/redirect') {
      res.writeHead(302, { Location: '/net.pkl' });
      res.end();
      return;
    }
    if (req.url !== '/net.pkl') {
      res.writeHead(404);
      res.end();
      return;
    }
    const range = req.headers.range;
    if (range) ranges.push(range);
    const start = range ? Number(/bytes=(\d+)-/.exec(range)![1]) : 0;
    const chunk = body.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'Content-Length': chunk.length,
      ...(range ? { 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
    });
    if (dropAfter !== null) {
      const n = dropAfter;
      dropAfter = null;
      res.write(chunk.subarray(0, n), () => res.socket?.destroy());
      return;
    }
    res.end(chunk);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

async function manifest(dir: string, entry: object): Promise<string> {
  const f = path.join(dir, 'manifest.json');
  await fs.writeFile(f, JSON.stringify({ networks: [{ name: 'tiny', description: 'test', resolution: 16, size: body.length, license: 'x', ...entry }] }));
  return f;
}

describe('fetch', () => {
  test('downloads with progress, verifies the checksum, then serves from the cache', async () => {
    const dir = await tempDir('fetch');
    const m = await manifest(dir, { url: `${base}/redirect`, sha256: sha });
    const seen: number[] = [];
    const f = await fetchNetwork('tiny', { manifest: m, cache: path.join(dir, 'cache'), progress: (d) => seen.push(d), log: () => {} });
    assert.deepEqual(await fs.readFile(f), body);
    assert.equal(seen[seen.length - 1], body.length);
    assert.equal(await fetchNetwork('tiny', { manifest: m, cache: path.join(dir, 'cache') }), f);
  });

  test('a broken download is resumed with a Range request', async () => {
    const dir = await tempDir('fetch');
    const m = await manifest(dir, { url: `${base}/net.pkl`, sha256: sha });
    ranges.length = 0;
    dropAfter = 100_000;
    // One attempt: the first call fails and keeps the partial file...
    await assert.rejects(fetchNetwork('tiny', { manifest: m, cache: dir, attempts: 1, log: () => {} }), /kept in .*net\.pkl\.part; run fetch again to resume/);
    const partSize = (await fs.stat(path.join(dir, 'net.pkl.part'))).size;
    assert.ok(partSize > 0 && partSize < body.length, `partial ${partSize}`); // what arrived before the reset
    // ...the next resumes from where it stopped.
    const f = await fetchNetwork('tiny', { manifest: m, cache: dir, log: () => {} });
    assert.deepEqual(ranges, [`bytes=${partSize}-`]);
    assert.deepEqual(await fs.readFile(f), body);
    // Within one call, an interruption is retried automatically.
    const dir2 = await tempDir('fetch');
    dropAfter = 50_000;
    const lines: string[] = [];
    const f2 = await fetchNetwork('tiny', { manifest: await manifest(dir2, { url: `${base}/net.pkl`, sha256: sha }), cache: dir2, log: (l) => lines.push(l) });
    assert.deepEqual(await fs.readFile(f2), body);
    assert.match(lines[0], /download interrupted .* resuming, attempt 2 of 3/);
  });

  test('checksum mismatch deletes the download; offline and unknown names are clear errors', async () => {
    const dir = await tempDir('fetch');
    const bad = await manifest(dir, { url: `${base}/net.pkl`, sha256: '0'.repeat(64) });
    await assert.rejects(
      fetchNetwork('tiny', { manifest: bad, cache: dir, log: () => {} }),
      /sha256 [0-9a-f]{64} does not match the manifest's 0{64}; the download was deleted/,
    );
    await assert.rejects(fs.stat(path.join(dir, 'net.pkl.part')));
    const closed = http.createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    const off = await manifest(dir, { url: `http://127.0.0.1:${port}/x.pkl`, sha256: null });
    await assert.rejects(
      fetchNetwork('tiny', { manifest: off, cache: dir, log: () => {} }),
      /cannot download .* \(ECONNREFUSED: offline or unreachable\); download it where you have access and pass the file with options\.network/,
    );
    await assert.rejects(fetchNetwork('nope', { manifest: off, cache: dir }), /unknown network 'nope'; known: tiny/);
  });

  test('a URL that names no file, and HTTP 404, are refused at once (a 404 used to be retried as an interruption)', async () => {
    const dir = await tempDir('fetch');
    await assert.rejects(
      fetchNetwork(`${base}/`, { cache: dir, log: () => {} }),
      /http:\/\/127\.0\.0\.1:\d+\/ names no file; give the URL of the network file itself/,
    );
    await assert.rejects(fetchNetwork(base, { cache: dir, log: () => {} }), /names no file/);
    requests.length = 0;
    const lines: string[] = [];
    await assert.rejects(
      fetchNetwork(`${base}/missing.pkl`, { cache: dir, log: (l) => lines.push(l) }),
      /server answered HTTP 404 Not Found for .*\/missing\.pkl: check the URL/,
    );
    assert.deepEqual(requests, ['/missing.pkl'], 'asked once');
    assert.deepEqual(lines, []);
    assert.deepEqual(await fs.readdir(dir), [], 'nothing kept');
  });
});

describe('info and convert commands', () => {
  test('info --json reports the architecture', () => {
    const r = cli('info', path.join(FIXTURES, 'tiny16.pkl'), '--json');
    assert.equal(r.status, 0, r.stderr);
    const info = JSON.parse(r.stdout);
    assert.equal(info.format, 'pytorch-pickle');
    assert.deepEqual(info.networks, ['G', 'D', 'G_ema']);
    assert.equal(info.generator.architecture, 'StyleGAN2 (skip)');
    assert.equal(info.generator.num_ws, 6);
    assert.equal(info.generator.resolution, 16);
    assert.equal(info.generator.z_dim, 32);
    assert.equal(info.discriminator.architecture, 'StyleGAN2 (resnet)');
    assert.equal(info.generator.parameters, 44958);
  });

  test('convert writes a checkpoint once; again without --force is refused', async () => {
    const out = path.join(await tempDir('conv'), 'tiny.safetensors');
    const r = cli('convert', path.join(FIXTURES, 'tiny16_tf.pkl'), out);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(JSON.parse(cli('info', out, '--json').stdout).format, 'checkpoint');
    const again = cli('convert', path.join(FIXTURES, 'tiny16_tf.pkl'), out);
    assert.equal(again.status, 1);
    assert.equal(again.stderr, `stylegan-rlo: ${out} already exists; use --force to replace it\n`);
    const bad = cli('info', path.join(FIXTURES, 'tiny16.json'));
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /^stylegan-rlo: .*tiny16\.json: not a network file this toolkit reads/);
  });

  test('a run directory stands for its latest snapshot (by kimg); a folder without snapshots is refused in one line', async () => {
    const run = await tempDir('run-arg');
    // The older snapshot keeps only G_ema and D, the latest all three: the networks tell them apart.
    assert.equal(cli('convert', path.join(FIXTURES, 'tiny16.pkl'), path.join(run, 'network-snapshot-0000.500.safetensors'), '--networks', 'G_ema,D').status, 0);
    assert.equal(cli('convert', path.join(FIXTURES, 'tiny16.pkl'), path.join(run, 'network-snapshot-0010.000.safetensors')).status, 0);
    const r = cli('info', run, '--json');
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).networks, ['G', 'D', 'G_ema']);
    assert.equal(r.stderr, `${run}: its latest snapshot, network-snapshot-0010.000.safetensors\n`);
    const out = path.join(await tempDir('run-arg-out'), 'latest.safetensors');
    const c = cli('convert', run, out, '--networks', 'G_ema');
    assert.equal(c.status, 0, c.stderr);
    assert.match(c.stdout, /network-snapshot-0010\.000\.safetensors -> /);
    const empty = cli('info', await tempDir('no-snapshots'));
    assert.equal(empty.status, 1);
    assert.match(empty.stderr, /^stylegan-rlo: .* is a folder without network-snapshot-\*\.safetensors: give a network file, or a run directory\n$/);
  });
});

test('progress lines count images as images and bytes as MB (image counts used to print as "(0.0 MB)")', () => {
  const lines: string[] = [];
  const write = process.stderr.write;
  const tty = process.stderr.isTTY;
  process.stderr.isTTY = false;
  process.stderr.write = ((s: string) => {
    lines.push(s);
    return true;
  }) as typeof process.stderr.write;
  try {
    const img = progressReporter('features x', 'images');
    img(5, 10);
    img(10, 10);
    const bytes = progressReporter('net.pkl');
    bytes(3 * 2 ** 20, 6 * 2 ** 20);
  } finally {
    process.stderr.write = write;
    process.stderr.isTTY = tty;
  }
  assert.deepEqual(lines, ['features x 50% (5 of 10 images)\n', 'features x 100% (10 of 10 images)\n', 'net.pkl 50% (3.0 MB)\n']);
});
