import { writeFileAtomic } from '../files/atomic.js';
import { readRegularFile } from '../files/inputs.js';
import type { DType, StTensor } from '../records.js';

const DTYPE_SIZE: Record<DType, number> = { F32: 4, F64: 8, I32: 4, I64: 8, U8: 1, I8: 1, BOOL: 1 };

export interface StFile {
  tensors: Map<string, StTensor>;
  metadata: Record<string, string>;
}

function fail(source: string, msg: string): never {
  throw new Error(`${source}: not a valid safetensors file (${msg})`);
}

/** Parses a safetensors buffer; `source` names the file in errors. */
export function parseSafetensors(buf: Uint8Array, source = 'safetensors'): StFile {
  if (buf.length < 8) fail(source, `only ${buf.length} bytes`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = view.getBigUint64(0, true);
  if (hlen > BigInt(buf.length - 8) || hlen > 100_000_000n) fail(source, `header length ${hlen} exceeds the file size ${buf.length}`);
  const n = Number(hlen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  } catch {
    fail(source, 'the header is not JSON');
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(source, 'the header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const tensors = new Map<string, StTensor>();
  let metadata: Record<string, string> = {};
  const ranges: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw) || !Object.values(raw).every((v) => typeof v === 'string')) {
        fail(source, '__metadata__ is not an object of strings');
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: string; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e.dtype !== 'string' || !Object.hasOwn(DTYPE_SIZE, e.dtype))
      fail(source, `tensor '${name}' has unsupported dtype ${JSON.stringify(e?.dtype)}`);
    const dtype = e.dtype as DType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(source, `tensor '${name}' has a bad shape`);
    const shape = e.shape as number[];
    if (!Array.isArray(e.data_offsets) || e.data_offsets.length !== 2) fail(source, `tensor '${name}' has bad data_offsets`);
    const [b, en] = e.data_offsets as number[];
    const count = shape.reduce((a, d) => a * d, 1);
    if (!(Number.isInteger(b) && Number.isInteger(en) && b >= 0 && en >= b && en <= dataLen)) {
      fail(source, `tensor '${name}' data_offsets [${b}, ${en}] lie outside the ${dataLen} data bytes`);
    }
    if (en - b !== count * DTYPE_SIZE[dtype]) fail(source, `tensor '${name}' has ${en - b} bytes, its shape [${shape}] needs ${count * DTYPE_SIZE[dtype]}`);
    ranges.push([b, en, name]);
    const bytes = new Uint8Array(buf.subarray(dataStart + b, dataStart + en)); // a copy: aligned, owns its memory
    const ab = bytes.buffer;
    let data: StTensor['data'];
    switch (dtype) {
      case 'F32':
        data = new Float32Array(ab, 0, count);
        break;
      case 'F64':
        data = new Float64Array(ab, 0, count);
        break;
      case 'I32':
        data = new Int32Array(ab, 0, count);
        break;
      case 'I64':
        data = new BigInt64Array(ab, 0, count);
        break;
      case 'I8':
        data = new Int8Array(ab, 0, count);
        break;
      default:
        data = new Uint8Array(ab, 0, count);
    }
    tensors.set(name, { dtype, shape, data });
  }
  // Each byte belongs to at most one tensor (as the format requires): overlapping tensors would
  // alias one another's data once written back.
  ranges.sort((x, y) => x[0] - y[0]);
  let reach: [number, number, string] | null = null; // the non-empty range reaching furthest so far
  for (const r of ranges) {
    if (r[1] === r[0]) continue;
    if (reach && r[0] < reach[1]) fail(source, `tensors '${reach[2]}' and '${r[2]}' overlap (bytes ${r[0]} to ${Math.min(reach[1], r[1])})`);
    if (!reach || r[1] > reach[1]) reach = r;
  }
  return { tensors, metadata };
}

export async function readSafetensors(path: string): Promise<StFile> {
  return parseSafetensors(await readRegularFile(path, 'safetensors file'), path);
}

function dtypeOf(data: StTensor['data']): DType {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int8Array) return 'I8';
  return 'U8';
}

/** Serializes tensors (in the given order) to a safetensors buffer. */
export function serializeSafetensors(tensors: Map<string, { shape: number[]; data: StTensor['data'] }>, metadata: Record<string, string> = {}): Buffer {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let off = 0;
  const parts: Uint8Array[] = [];
  for (const [name, t] of tensors) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    header[name] = { dtype: dtypeOf(t.data), shape: t.shape, data_offsets: [off, off + bytes.length] };
    parts.push(bytes);
    off += bytes.length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8); // align the data to 8 bytes
  const hb = Buffer.from(json, 'utf8');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(hb.length));
  return Buffer.concat([len, hb, ...parts.map((p) => Buffer.from(p.buffer, p.byteOffset, p.byteLength))]);
}

export async function writeSafetensors(
  path: string,
  tensors: Map<string, { shape: number[]; data: StTensor['data'] }>,
  metadata: Record<string, string> = {},
  opts: { overwrite?: boolean } = {},
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata), opts);
}
