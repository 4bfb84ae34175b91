// Loading the FID Inception weights: pytorch-fid's pt_inception-2015-12-05-6726825d.pth (a
// torch.save file, zip or legacy format). Never substitutes random weights: a missing file is an
// error saying which file is needed and where to put it.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { NamedArray } from '../networks/params.js';
import { readTorchFile, TorchTensor } from '../formats/torch.js';
import { parseSafetensors } from '../formats/safetensors.js';
import { readRegularFile } from '../files/inputs.js';
import { cacheDir } from '../files/cache_dir.js';
import { OptionError } from '../files/option_error.js';

export const INCEPTION_FILE = 'pt_inception-2015-12-05-6726825d.pth';
export const INCEPTION_URL = `https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/${INCEPTION_FILE}`;

export function defaultInceptionPath(): string {
  return process.env.STYLEGAN_RLO_INCEPTION ?? path.join(cacheDir(), INCEPTION_FILE);
}

export async function loadInceptionWeights(file: string | null = null): Promise<Map<string, NamedArray>> {
  const p = file ?? defaultInceptionPath();
  let buf: Buffer;
  try {
    buf = await readRegularFile(p, 'Inception weights');
  } catch (e) {
    if (existsSync(p)) throw e;
    throw new OptionError(
      (o) =>
        `FID needs the Inception weights ${INCEPTION_FILE} (pytorch-fid's, 91 MB) at ${p}: download ${INCEPTION_URL} and pass it with ${o('inception')} <file> or put it there`,
    );
  }
  // A safetensors state dict (e.g. converted weights) is accepted too.
  if (buf.length > 9 && buf[8] === 0x7b) {
    const st = parseSafetensors(buf, p);
    const out = new Map<string, NamedArray>();
    for (const [k, v] of st.tensors) if (v.dtype === 'F32') out.set(k, { shape: v.shape, data: v.data as Float32Array });
    if (!out.has('Mixed_7c.branch_pool.conv.weight')) throw new Error(`${p}: not pytorch-fid's Inception state dict (no Mixed_7c)`);
    return out;
  }
  const sd = readTorchFile(buf, p);
  if (!(sd instanceof Map)) throw new Error(`${p}: not a state dict`);
  const out = new Map<string, NamedArray>();
  for (const [k, v] of sd) {
    if (v instanceof TorchTensor && (v.dtype === 'float32' || v.dtype === 'float64' || v.dtype === 'float16'))
      out.set(String(k), { shape: v.shape.slice(), data: v.float32() });
  }
  if (!out.has('Mixed_7c.branch_pool.conv.weight')) throw new Error(`${p}: not pytorch-fid's Inception state dict (no Mixed_7c)`);
  return out;
}
