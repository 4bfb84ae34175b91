// Copies what the tests use from the shared Inception reference (shared/reference/inception/)
// into test/fixtures/inception/: the test images, expected features and resize intermediates for
// both protocols, FID/KID feature sets with KID subset indices, and the parts of
// inception_io.json the tests read (weight generator exponents and checks, FID/KID values).
//   node dist/scripts/extract-inception-fixture.js ../shared/reference/inception
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { readSafetensors, serializeSafetensors } from '../src/formats/safetensors.js';

const KEEP = [
  'images_u8_64',
  'images_u8_32',
  'image_u8_299',
  'features_64',
  'features_32',
  'features_299',
  'features_nvidia_64',
  'features_nvidia_32',
  'features_nvidia_299',
  'net_input_32_0',
  'tf1_resized_64_0',
  'block0_pooled_64',
  'block1_pooled_64',
  'block2_pooled_64',
  'fid_set_A',
  'fid_set_B',
  'fid_set_C',
  'kid_realA_genB_idx_gen',
  'kid_realA_genB_idx_real',
  'kid_realA_genC_idx_gen',
  'kid_realA_genC_idx_real',
  'kid_realA_genA_idx_gen',
  'kid_realA_genA_idx_real',
];

async function main() {
  const src = process.argv[2] ?? '../shared/reference/inception';
  const out = path.resolve('test/fixtures/inception');
  await fs.mkdir(out, { recursive: true });
  const st = await readSafetensors(path.join(src, 'inception_io.safetensors'));
  const keep = new Map([...st.tensors].filter(([k]) => KEEP.includes(k)).map(([k, v]) => [k, { shape: v.shape, data: v.data }]));
  await fs.writeFile(path.join(out, 'inception_io.safetensors'), serializeSafetensors(keep as never));
  const j = JSON.parse(await fs.readFile(path.join(src, 'inception_io.json'), 'utf8'));
  const wg = j.weight_generator;
  const trimmed = {
    note: 'Trimmed from shared/reference/inception/inception_io.json by scripts/extract-inception-fixture.ts',
    weight_generator: {
      salt: wg.salt,
      exponents: wg.exponents,
      entries: wg.entries,
      self_check: wg.self_check,
      fnv1a32_test_vectors: wg.fnv1a32_test_vectors,
      fmix32_test_vectors: wg.fmix32_test_vectors,
    },
    state_dict: { keys: j.state_dict.keys, shapes: j.state_dict.shapes, dtypes: j.state_dict.dtypes },
    conv_layers: j.model.conv_layers,
    fid: j.fid,
    kid: j.kid,
    fid_sets: j.fid_sets,
    float32_vs_float64_forward: j.float32_vs_float64_forward,
  };
  await fs.writeFile(path.join(out, 'inception_io.json'), JSON.stringify(trimmed));
  console.log(`${keep.size} tensors -> ${out}`);
}

main().catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
