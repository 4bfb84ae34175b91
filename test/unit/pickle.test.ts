// Network pickles and torch files: tiny16.pkl bit for bit and its outputs, the TensorFlow pickle
// fixture, both torch.save formats, pickle -> checkpoint -> load, and bad input (nothing executed).
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadNetwork, buildGenerator, buildDiscriminator, parseNetwork } from '../../src/io/network.js';
import { readTorchFile, type TorchTensor } from '../../src/formats/torch.js';
import { type PyDict, unpickle } from '../../src/formats/pickle.js';
import { saveCheckpoint } from '../../src/formats/checkpoint.js';
import { assertClose, FIXTURES, loadTiny16, nchwToNhwc, testBackend } from '../helpers.js';
import { PickleWriter } from '../pickle_writer.js';
import { tempDir } from '../train_helpers.js';

before(() => testBackend());

async function refTensors() {
  return (await loadTiny16()).st.tensors;
}

describe('network pickles', () => {
  test('tiny16.pkl: G, D, G_ema equal the reference parameters bit for bit, configs from _init_kwargs', async () => {
    const net = await loadNetwork(path.join(FIXTURES, 'tiny16.pkl'));
    assert.equal(net.format, 'pytorch-pickle');
    const { json } = await loadTiny16();
    assert.deepEqual(net.G_kwargs, { ...json.G_kwargs, synthesis_kwargs: json.G_kwargs.synthesis_kwargs });
    assert.equal(net.D_kwargs!.channel_base, 256);
    const st = await refTensors();
    let n = 0;
    for (const [part, pre] of [
      ['G', 'G'],
      ['D', 'D'],
      ['G_ema', 'G'],
    ] as const) {
      for (const [k, v] of net[part]!) {
        const r = st.get(`${pre}/${k}`)!;
        assert.ok(r, `${pre}/${k} in the reference`);
        assert.deepEqual(v.shape, r.shape, k);
        assert.ok(
          v.data.every((x, i) => Object.is(x, (r.data as Float32Array)[i])),
          `${part}/${k} differs`,
        );
        n++;
      }
    }
    assert.equal(n, 140); // parameters and buffers (w_avg, noise_const, resample_filter)
  });

  test('tiny16.pkl networks reproduce the reference outputs', async () => {
    const net = await loadNetwork(path.join(FIXTURES, 'tiny16.pkl'));
    const G = buildGenerator(net),
      D = buildDiscriminator(net);
    const st = await refTensors();
    tf.tidy(() => {
      const ws = G.mapZ(tf.tensor(st.get('z')!.data as Float32Array, [4, 32]), null);
      assertClose('ws', ws.dataSync(), st.get('ws')!.data as Float32Array, 1e-4, 1e-4);
      assertClose(
        'img_const',
        G.synthesize(ws, { noise_mode: 'const' }).transpose([0, 3, 1, 2]).dataSync(),
        st.get('img_const')!.data as Float32Array,
        1e-4,
        1e-4,
      );
      assertClose('logits_real', D.apply(nchwToNhwc(st.get('reals')!), null).dataSync(), st.get('logits_real')!.data as Float32Array, 1e-4, 1e-4);
    });
    G.dispose();
    D.dispose();
  });

  test('TensorFlow pickle (fixture from scripts/fixtures/make-tf-pickle-fixture.py) maps to the same parameters', async () => {
    const net = await loadNetwork(path.join(FIXTURES, 'tiny16_tf.pkl'));
    assert.equal(net.format, 'tensorflow-pickle');
    assert.equal(net.G_kwargs.synthesis_kwargs!.channel_base, 256); // fmap_base * 2
    const st = await refTensors();
    for (const [part, pre] of [
      ['G', 'G'],
      ['D', 'D'],
      ['G_ema', 'G'],
    ] as const) {
      for (const [k, v] of net[part]!) {
        const r = st.get(`${pre}/${k}`)!.data as Float32Array;
        // TF stores mod_bias = bias - 1: adding 1 back rounds once in float32.
        if (k.endsWith('affine.bias')) assertClose(k, v.data, r, 2 ** -23 * 2, 0);
        else
          assert.ok(
            v.data.every((x, i) => Object.is(x, r[i])),
            `${part}/${k} differs`,
          );
      }
    }
  });

  test('pickle -> our checkpoint -> load gives identical parameters', async () => {
    const dir = await tempDir('pkl');
    const net = await loadNetwork(path.join(FIXTURES, 'tiny16.pkl'));
    const G = buildGenerator(net, 'G'),
      D = buildDiscriminator(net),
      Ge = buildGenerator(net, 'G_ema');
    const file = path.join(dir, 'tiny16.safetensors');
    await saveCheckpoint(
      file,
      { format: 'stylegan-rlo', version: 1, G_kwargs: net.G_kwargs, D_kwargs: net.D_kwargs },
      { G: G.params, D: D.params, G_ema: Ge.params },
    );
    const back = await loadNetwork(file);
    assert.equal(back.format, 'checkpoint');
    for (const part of ['G', 'D', 'G_ema'] as const) {
      for (const [k, v] of net[part]!) assert.deepEqual(Array.from(back[part]!.get(k)!.data), Array.from(v.data), `${part}/${k}`);
    }
    await assert.rejects(
      saveCheckpoint(file, { format: 'stylegan-rlo', version: 1, G_kwargs: net.G_kwargs, D_kwargs: null }, { G: G.params }),
      /already exists/,
    );
    G.dispose();
    D.dispose();
    Ge.dispose();
  });
});

describe('torch.save files', () => {
  const expected = JSON.parse(readFileSync(path.join(FIXTURES, 'torch', 'small_state.json'), 'utf8'));
  for (const fmt of ['zip', 'legacy']) {
    test(`${fmt} format: values, dtypes, strides and offsets, _metadata`, () => {
      const obj = readTorchFile(readFileSync(path.join(FIXTURES, 'torch', `small_state.${fmt}.pth`)), fmt) as PyDict;
      assert.deepEqual([...obj.keys()], expected.keys_in_order);
      for (const [k, e] of Object.entries(
        expected.entries as Record<string, { dtype: string; shape: number[]; stride: number[]; storage_offset: number; values: unknown }>,
      )) {
        const t = obj.get(k) as TorchTensor;
        assert.equal(t.dtype, e.dtype, k);
        assert.deepEqual(t.shape, e.shape, k);
        assert.deepEqual(t.stride, e.stride, k);
        assert.equal(t.offset, e.storage_offset, k);
        const want = [e.values].flat(4) as number[];
        const got = Array.from(t.values() as ArrayLike<number | bigint>, (x) => (typeof x === 'bigint' ? Number(x) : x));
        assert.deepEqual(got, want, k);
      }
      assert.deepEqual([...(obj.attrs._metadata as PyDict).keys()], Object.keys(expected._metadata));
    });
  }
});

describe('bad input: clear errors, nothing executed', () => {
  const parse = (b: Uint8Array) => parseNetwork(b, 'test.pkl');

  test('truncated pickle', async () => {
    const buf = readFileSync(path.join(FIXTURES, 'tiny16.pkl'));
    await assert.rejects(async () => parse(buf.subarray(0, 5000)), /test\.pkl: truncated/);
  });

  test('not a pickle at all', async () => {
    await assert.rejects(async () => parse(Buffer.from('hello, this is a text file')), /not a network file this toolkit reads/);
    await assert.rejects(async () => parse(Buffer.from([0x80, 2, 0xff, 0xfe])), /unknown opcode 0xff/);
  });

  test('a pickle without G', async () => {
    const b = new PickleWriter().emptyDict().mark().str('foo').int(1).setitems().stop();
    await assert.rejects(async () => parse(b), /no G or G_ema: not a StyleGAN2 network pickle \(keys: foo\)/);
    await assert.rejects(async () => parse(new PickleWriter().int(5).stop()), /not a StyleGAN2 network pickle/);
  });

  test('wrong magic in a legacy torch file', () => {
    const good = readFileSync(path.join(FIXTURES, 'torch', 'small_state.legacy.pth'));
    const bad = Buffer.from(good);
    bad[5] ^= 0xff; // inside the LONG1 magic number
    assert.throws(() => readTorchFile(bad, 'x.pth'), /wrong magic number/);
  });

  test('absurd declared sizes', () => {
    const huge = Buffer.from([0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0x2e]); // BINUNICODE8 of 2^40 bytes
    assert.throws(() => unpickle(huge), /BINUNICODE8 declares 1099511627775 bytes at offset 11, but only 1 remain/);
    const longStr = Buffer.from([0x80, 2, 0x58, 0xff, 0xff, 0xff, 0x7f, 0x2e]);
    assert.throws(() => unpickle(longStr), /truncated or corrupt/);
  });

  test('GLOBAL os.system / builtins.eval: refused, and nothing runs', async () => {
    const marker = path.join(await tempDir('evil'), 'pwned');
    const evil = (mod: string, name: string) => new PickleWriter().global(mod, name).mark().str(`touch ${marker}`).tuple().reduce().stop();
    await assert.rejects(async () => parse(evil('os', 'system')), /refusing to load: the pickle references os\.system/);
    await assert.rejects(async () => parse(evil('posix', 'system')), /refusing to load: the pickle references posix\.system/);
    await assert.rejects(async () => parse(evil('builtins', 'eval')), /refusing to load: the pickle references builtins\.eval/);
    await assert.rejects(async () => parse(evil('subprocess', 'Popen')), /refusing to load/);
    assert.ok(!existsSync(marker));
  });

  test('unknown globals stay inert; a StyleGAN3 or other class is an unsupported architecture', async () => {
    const persistent = (className: string, synthModules: string[]) => {
      const w = new PickleWriter()
        .emptyDict()
        .mark()
        .str('G')
        .global('torch_utils.persistence', '_reconstruct_persistent_obj')
        .mark()
        .emptyDict()
        .mark()
        .str('class_name')
        .str(className)
        .str('state')
        .emptyDict()
        .mark()
        .str('_modules')
        .emptyDict()
        .mark()
        .str('synthesis')
        .global('torch_utils.persistence', '_reconstruct_persistent_obj')
        .mark()
        .emptyDict()
        .mark()
        .str('class_name')
        .str('SynthesisNetwork')
        .str('state')
        .emptyDict()
        .mark()
        .str('_modules')
        .emptyDict()
        .mark();
      for (const m of synthModules) w.str(m).none();
      // Close: synth modules, synth state, synth meta; reduce; outer modules, outer state, outer meta; reduce; top dict.
      return w.setitems().setitems().setitems().tuple().reduce().setitems().setitems().setitems().tuple().reduce().setitems().stop();
    };
    await assert.rejects(async () => parse(persistent('Generator', ['input', 'L0_36_512'])), /unsupported architecture: StyleGAN3 \(alias-free\) Generator/);
    await assert.rejects(async () => parse(persistent('MyGenerator', ['b4'])), /unsupported architecture: MyGenerator/);
    const inert = unpickle(new PickleWriter().global('some.module', 'Thing').mark().int(1).tuple().reduce().stop());
    assert.equal((inert as { className: string }).className, 'some.module.Thing');
  });

  test('missing network file and folders', async () => {
    await assert.rejects(loadNetwork('/nonexistent/ffhq.pkl'), /network file \/nonexistent\/ffhq\.pkl does not exist/);
    await assert.rejects(loadNetwork(FIXTURES), /is a folder, not a network file/);
    await fs.access(FIXTURES);
  });
});
