// Hostile files: every probe ends within seconds and bounded memory with one error that names the
// file and what is wrong, or is read correctly. The files are made here, not committed. (Time and
// memory bounds are asserted because they protect users: a crafted file must never hang the tool
// or exhaust the machine.)
import { CLI } from '../cli_helper.js';
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { loadNetwork } from '../../src/io/network.js';
import { readTorchFile } from '../../src/formats/torch.js';
import { unpickle } from '../../src/formats/pickle.js';
import { generatorPickle, memoized, persistent, PickleWriter, Py, storage, tensor } from '../pickle_writer.js';
import { parseNetwork } from '../../src/io/network.js';
import { parseSafetensors } from '../../src/formats/safetensors.js';
import { tempDir } from '../train_helpers.js';

let dir: string;
before(async () => {
  dir = await tempDir('probes');
});

/** Runs `f`, which must throw matching `pattern`, within `ms` and `mb` of added RSS. */
async function refusedQuickly(f: () => Promise<unknown> | unknown, pattern: RegExp, ms = 5000, mb = 300) {
  const rss0 = process.memoryUsage().rss,
    t0 = performance.now();
  await assert.rejects(async () => f(), pattern);
  const dt = performance.now() - t0,
    grew = (process.memoryUsage().rss - rss0) / 2 ** 20;
  assert.ok(dt < ms, `took ${dt.toFixed(0)} ms`);
  assert.ok(grew < mb, `RSS grew by ${grew.toFixed(0)} MB`);
}

/** A zip archive of `entries` (name, stored bytes, declared uncompressed size, method). */
function zip(entries: { name: string; data: Buffer; size: number; method: 0 | 8; extra?: Buffer }[]): Buffer {
  const locals: Buffer[] = [],
    central: Buffer[] = [];
  let off = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(e.method, 8);
    lh.writeUInt32LE(e.data.length, 18);
    lh.writeUInt32LE(e.size, 22);
    lh.writeUInt16LE(name.length, 26);
    locals.push(lh, name, e.data);
    const extra = e.extra ?? Buffer.alloc(0);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(e.method, 10);
    ch.writeUInt32LE(e.data.length, 20);
    ch.writeUInt32LE(e.size, 24);
    ch.writeUInt16LE(name.length, 28);
    ch.writeUInt16LE(extra.length, 30);
    ch.writeUInt32LE(off, 42);
    central.push(ch, name, extra);
    off += 30 + name.length + e.data.length;
  }
  const cd = Buffer.concat(central);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** data.pkl: a FloatStorage persistent id ('storage', FloatStorage, '0', 'cpu', numel) rebuilt as a tensor. */
function storagePickle(numel: number): Buffer {
  return new PickleWriter()
    .global('torch._utils', '_rebuild_tensor_v2')
    .mark()
    .mark()
    .str('storage')
    .global('torch', 'FloatStorage')
    .str('0')
    .str('cpu')
    .int(numel)
    .tuple()
    .raw(0x51) // BINPERSID
    .int(0)
    .mark()
    .int(numel)
    .tuple()
    .mark()
    .int(1)
    .tuple()
    .raw(0x89)
    .raw(0x7d)
    .tuple()
    .reduce()
    .stop(); // offset, size, stride, False, {}
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
    zip([
      { name: 'archive/data.pkl', data: pkl, size: pkl.length, method: 0, extra },
      { name: 'archive/data/0', ...data },
    ]);
  await refusedQuickly(
    () => readTorchFile(archive({ data: bomb, size: 4096, method: 8 }), 'bomb.pth'),
    /bomb\.pth: zip entry archive\/data\/0 does not inflate to its declared 4096 bytes/,
  );
  await refusedQuickly(
    () => readTorchFile(archive({ data: bomb, size: 2 ** 31, method: 8 }), 'declared.pth'),
    /declared\.pth: zip entry archive\/data\/0 declares 2147483648 bytes/,
  );
  const huge = zip([
    { name: 'archive/data.pkl', data: storagePickle(2 ** 30), size: storagePickle(2 ** 30).length, method: 0 },
    { name: 'archive/data/0', data: bomb, size: 2 ** 32 - 1, method: 8 },
  ]);
  await refusedQuickly(() => readTorchFile(huge, 'huge.pth'), /huge\.pth: storage 0 declares 1073741824 elements, beyond any network's tensor/);
  await refusedQuickly(
    () => readTorchFile(archive({ data: Buffer.alloc(100), size: 100, method: 0 }), 'short.pth'),
    /short\.pth: storage 0 has 100 bytes, needs 4096/,
  );
  const badExtra = Buffer.from([1, 0, 200, 0, 1, 2, 3]); // id 1, length 200, 3 bytes present
  await refusedQuickly(
    () => readTorchFile(archive({ data: Buffer.alloc(4096), size: 4096, method: 0 }, badExtra), 'extra.pth'),
    /extra\.pth: corrupt zip (extra field|central directory)/,
  );
  // The same archive, well formed, reads.
  const good = readTorchFile(archive({ data: deflateRawSync(Buffer.alloc(4096)), size: 4096, method: 8 }), 'good.pth') as { shape: number[] };
  assert.deepEqual(good.shape, [1024]);
});

test('non-regular files are refused, not read: /dev/zero and a FIFO', async () => {
  await refusedQuickly(() => loadNetwork('/dev/zero'), /\/dev\/zero is not a regular file/);
  const fifo = path.join(dir, 'fifo');
  execFileSync('mkfifo', [fifo]);
  const r = spawnSync(process.execPath, [CLI, 'info', fifo], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 1, r.stderr);
  assert.match(r.stderr.trim(), /fifo is not a regular file/);
});

// A valid tiny generator config; each probe breaks one thing.
const KWARGS = {
  z_dim: 8,
  c_dim: 0,
  w_dim: 8,
  img_resolution: 8,
  img_channels: 3,
  mapping_kwargs: { num_layers: 2 },
  synthesis_kwargs: { channel_base: 64, channel_max: 16 },
};

test('tensor views: a stride-0 view and views that reuse one storage are refused before they expand', async () => {
  // 1 float of storage viewed as 16384 x 16384 (1 GiB as float32).
  const broadcast = generatorPickle(KWARGS, { w: tensor(1, 0, [16384, 16384], [0, 0]) });
  await refusedQuickly(() => parseNetwork(broadcast, 'bcast.pkl'), /bcast\.pkl \[G\]: w: .*268435456 elements but its storage only 1: a broadcast view/);
  // 200 views of one 1 MB storage: each is legal alone; together they would need 200 MB.
  const params: Record<string, Py> = { w0: tensor(storage(2 ** 18, 1), 0, [2 ** 18], [1]) };
  for (let i = 1; i < 200; i++) params[`w${i}`] = tensor(memoized(1), 0, [2 ** 18], [1]);
  const reuse = generatorPickle(KWARGS, params);
  await refusedQuickly(() => parseNetwork(reuse, 'reuse.pkl'), /reuse\.pkl \[G\]: w\d+: the tensors reuse their storages/, 5000, 100);
  // One ordinary view reads.
  const ok = await parseNetwork(generatorPickle(KWARGS, { w: tensor(6, 0, [2, 3], [3, 1]) }), 'ok.pkl');
  assert.deepEqual(ok.G?.get('w')?.shape, [2, 3]);
});

test('network configs: absurd sizes are refused before anything is built', async () => {
  const bad: [object, RegExp][] = [
    [{ ...KWARGS, mapping_kwargs: { num_layers: 1e6 } }, /num_layers must be an integer from 0 to 64, got 1000000/],
    [{ ...KWARGS, synthesis_kwargs: { resample_filter: Array(100000).fill(1) } }, /resample_filter must be a list of 1 to 16 numbers, got 100000 taps/],
    [{ ...KWARGS, z_dim: 1e9 }, /z_dim must be an integer from 0 to 8192, got 1000000000/],
    [{ ...KWARGS, img_resolution: 2 ** 20 }, /img_resolution must be an integer from 4 to 8192/],
  ];
  for (const [kw, pattern] of bad) {
    await refusedQuickly(() => parseNetwork(generatorPickle(kw, {}), 'cfg.pkl'), new RegExp(`cfg\\.pkl \\[G\\]: invalid .*config: ${pattern.source}`));
  }
});

test('deep nesting and self-reference name the file instead of overflowing the stack', async () => {
  const deepList = new Py((w) => {
    for (let i = 0; i < 100000; i++) w.raw(0x5d);
    for (let i = 1; i < 100000; i++) w.raw(0x61);
  });
  await refusedQuickly(
    () => parseNetwork(generatorPickle({ ...KWARGS, extra: deepList }, {}), 'deep.pkl'),
    /deep\.pkl \[G\]: _init_kwargs: options nested too deeply/,
  );
  // l = [l]: EMPTY_LIST, BINPUT 0, BINGET 0, APPEND.
  const cycle = new Py((w) => w.raw(0x5d, 0x71, 0, 0x68, 0, 0x61));
  await refusedQuickly(
    () => parseNetwork(generatorPickle({ ...KWARGS, extra: cycle }, {}), 'cycle.pkl'),
    /cycle\.pkl \[G\]: _init_kwargs: options nested too deeply \(or containing themselves\)/,
  );
  // Modules inside modules, 200 deep.
  let inner: unknown = null;
  for (let i = 0; i < 200; i++) inner = persistent('Block', { _parameters: {}, _buffers: {}, _modules: { m: inner } });
  await refusedQuickly(() => parseNetwork(generatorPickle(KWARGS, {}, { deep: inner }), 'modules.pkl'), /modules\.pkl \[G\]: modules nested more than 32 deep/);
});

test('safetensors: a dtype named __proto__, overlapping tensors, bad metadata', () => {
  const st = (header: object, dataBytes: number) => {
    const h = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(h.length));
    return Buffer.concat([len, h, Buffer.alloc(dataBytes)]);
  };
  assert.throws(
    () => parseSafetensors(st({ a: { dtype: '__proto__', shape: [1], data_offsets: [0, 4] } }, 4), 'p.safetensors'),
    /p\.safetensors: .*tensor 'a' has unsupported dtype "__proto__"/,
  );
  assert.throws(() => parseSafetensors(st({ a: { dtype: 'toString', shape: [1], data_offsets: [0, 4] } }, 4), 'p.safetensors'), /unsupported dtype "toString"/);
  assert.throws(
    () =>
      parseSafetensors(
        st(
          {
            a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
            z: { dtype: 'F32', shape: [0], data_offsets: [8, 8] },
            b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] },
          },
          16,
        ),
        'o.safetensors',
      ),
    /o\.safetensors: .*tensors 'a' and 'b' overlap \(bytes 8 to 16\)/,
  );
  assert.throws(() => parseSafetensors(st({ __metadata__: { a: 1 } }, 0), 'm.safetensors'), /m\.safetensors: .*__metadata__ is not an object of strings/);
  const ok = parseSafetensors(
    st({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } }, 16),
    'ok.safetensors',
  );
  assert.equal(ok.tensors.size, 2);
});

test('a corrupt storage embedded in a network pickle names the file', async () => {
  const junk = Buffer.from([0x80, 2, 0x4b, 5, 0x2e]); // a pickle of 5, not a torch.save stream
  const bad = new Py((w) => {
    const n = Buffer.alloc(4);
    n.writeUInt32LE(junk.length);
    w.global('torch._utils', '_rebuild_tensor_v2').mark();
    w.global('torch.storage', '_load_from_bytes')
      .mark()
      .raw(0x42, ...n)
      .blob(junk)
      .tuple()
      .reduce();
    w.int(0).mark().int(1).tuple().mark().int(1).tuple().raw(0x89).emptyDict().tuple().reduce();
  });
  await refusedQuickly(() => parseNetwork(generatorPickle(KWARGS, { w: bad }), 'embedded.pkl'), /embedded\.pkl: an embedded storage: wrong magic number/);
});

test('a checkpoint whose config is absurd is refused with its name before anything is built', async () => {
  const { serializeSafetensors } = await import('../../src/formats/safetensors.js');
  const config = { format: 'stylegan-rlo', version: 1, G_kwargs: { ...KWARGS, mapping_kwargs: { num_layers: 1e6 } } };
  const buf = serializeSafetensors(new Map(), { format: 'stylegan-rlo', config: JSON.stringify(config) });
  await refusedQuickly(
    () => parseNetwork(buf, 'absurd.safetensors'),
    /absurd\.safetensors: invalid mapping config: num_layers must be an integer from 0 to 64/,
  );
});
