// Hostile files: every probe ends within seconds and bounded memory with one error that names the
// file and what is wrong, or is read correctly. The files are made here, not committed. (Time and
// memory bounds are asserted because they protect users: a crafted file must never hang the tool
// or exhaust the machine.)
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { loadNetwork } from '../src/io/network.js';
import { readTorchFile } from '../src/io/torch.js';
import { unpickle } from '../src/io/pickle.js';
import { PickleWriter } from './pickle_writer.js';
import { tempDir } from './train_helpers.js';

let dir: string;
before(async () => { dir = await tempDir('probes'); });

/** Runs `f`, which must throw matching `pattern`, within `ms` and `mb` of added RSS. */
async function refusedQuickly(f: () => Promise<unknown> | unknown, pattern: RegExp, ms = 5000, mb = 300) {
  const rss0 = process.memoryUsage().rss, t0 = performance.now();
  await assert.rejects(async () => f(), pattern);
  const dt = performance.now() - t0, grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(dt < ms, `took ${dt.toFixed(0)} ms`);
  assert.ok(grew < mb, `RSS grew by ${grew.toFixed(0)} MB`);
}

/** A zip archive of `entries` (name, stored bytes, declared uncompressed size, method). */
function zip(entries: { name: string; data: Buffer; size: number; method: 0 | 8; extra?: Buffer }[]): Buffer {
  const locals: Buffer[] = [], central: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0); lh.writeUInt16LE(e.method, 8); lh.writeUInt32LE(e.data.length, 18); lh.writeUInt32LE(e.size, 22); lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, e.data);
    const extra = e.extra ?? Buffer.alloc(0);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0); ch.writeUInt16LE(e.method, 10); ch.writeUInt32LE(e.data.length, 20); ch.writeUInt32LE(e.size, 24);
    ch.writeUInt16LE(name.length, 28); ch.writeUInt16LE(extra.length, 30); ch.writeUInt32LE(off, 42);
    central.push(ch, name, extra);
    off += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0); eocd.writeUInt16LE(entries.length, 8); eocd.writeUInt16LE(entries.length, 10); eocd.writeUInt32LE(cd.length, 12); eocd.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** data.pkl: a FloatStorage persistent id ('storage', FloatStorage, '0', 'cpu', numel) rebuilt as a tensor. */
function storagePickle(numel: number): Buffer {
  return new PickleWriter().global('torch._utils', '_rebuild_tensor_v2')
    .mark().mark().str('storage').global('torch', 'FloatStorage').str('0').str('cpu').int(numel).tuple().raw(0x51) // BINPERSID
    .int(0).mark().int(numel).tuple().mark().int(1).tuple().raw(0x89).raw(0x7d).tuple().reduce().stop(); // offset, size, stride, False, {}
}

test('LONG4 integers: 1 MB refused at once; a 4 KB one decodes in linear time', async () => {
  const big = Buffer.concat([Buffer.from([0x80, 2, 0x8b]), Buffer.from(new Uint32Array([2 ** 20]).buffer), Buffer.alloc(2 ** 20, 0x41), Buffer.from([0x2e])]);
  const f = path.join(dir, 'long4.pkl');
  await fs.writeFile(f, big);
  await refusedQuickly(() => loadNetwork(f), /long4\.pkl.*integer of 1048576 bytes \(LONG4\)/);
  const ok = Buffer.concat([Buffer.from([0x80, 2, 0x8b]), Buffer.from(new Uint32Array([4096]).buffer), Buffer.alloc(4096, 0x7f), Buffer.from([0x2e])]);
  const t0 = performance.now();
  const v = unpickle(ok) as bigint;
  assert.equal(typeof v, 'bigint');
  assert.ok(performance.now() - t0 < 500);
});

test('ZIP storages: a decompression bomb, a storage beyond any tensor, a short entry, a bad extra field', async () => {
  // 8 MB of zeros deflate to ~8 KB; declared as 4 KB (what the 1024-element storage needs).
  const bomb = deflateRawSync(Buffer.alloc(8 * 2 ** 20));
  const pkl = storagePickle(1024);
  const archive = (data: { data: Buffer; size: number; method: 0 | 8 }, extra?: Buffer) =>
    zip([{ name: 'archive/data.pkl', data: pkl, size: pkl.length, method: 0, extra }, { name: 'archive/data/0', ...data }]);
  await refusedQuickly(() => readTorchFile(archive({ data: bomb, size: 4096, method: 8 }), 'bomb.pth'), /bomb\.pth: zip entry archive\/data\/0 does not inflate to its declared 4096 bytes/);
  await refusedQuickly(() => readTorchFile(archive({ data: bomb, size: 2 ** 31, method: 8 }), 'declared.pth'), /declared\.pth: zip entry archive\/data\/0 declares 2147483648 bytes/);
  const huge = zip([{ name: 'archive/data.pkl', data: storagePickle(2 ** 30), size: storagePickle(2 ** 30).length, method: 0 }, { name: 'archive/data/0', data: bomb, size: 2 ** 32 - 1, method: 8 }]);
  await refusedQuickly(() => readTorchFile(huge, 'huge.pth'), /huge\.pth: storage 0 declares 1073741824 elements, beyond any network's tensor/);
  await refusedQuickly(() => readTorchFile(archive({ data: Buffer.alloc(100), size: 100, method: 0 }), 'short.pth'), /short\.pth: storage 0 has 100 bytes, needs 4096/);
  const badExtra = Buffer.from([1, 0, 200, 0, 1, 2, 3]); // id 1, length 200, 3 bytes present
  await refusedQuickly(() => readTorchFile(archive({ data: Buffer.alloc(4096), size: 4096, method: 0 }, badExtra), 'extra.pth'), /extra\.pth: corrupt zip (extra field|central directory)/);
  // The same archive, well formed, reads.
  const good = readTorchFile(archive({ data: deflateRawSync(Buffer.alloc(4096)), size: 4096, method: 8 }), 'good.pth') as { shape: number[] };
  assert.deepEqual(good.shape, [1024]);
});

test('non-regular files are refused, not read: /dev/zero and a FIFO', async () => {
  await refusedQuickly(() => loadNetwork('/dev/zero'), /\/dev\/zero is not a regular file/);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const r = spawnSync(process.execPath, [path.resolve('dist/src/cli/main.js'), 'info', fifo], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr.trim(), /fifo is not a regular file/);
});
