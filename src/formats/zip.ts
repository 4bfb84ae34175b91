// A ZIP reader for torch.save archives: the central directory (ZIP64 included), stored and
// deflated entries, every offset and length checked against the buffer, and inflation capped by
// the entry's declared size (a 3 MB archive can declare a 3 GiB entry).
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  offset: number;
  compSize: number;
  size: number;
  method: number;
}

export function zipEntries(buf: Uint8Array, source: string): Map<string, ZipEntry> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let eocd = -1;
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65557); i--)
    if (dv.getUint32(i, true) === 0x06054b50) {
      eocd = i;
      break;
    }
  if (eocd < 0) throw new Error(`${source}: truncated zip archive (no end of central directory)`);
  let count = dv.getUint16(eocd + 10, true);
  let cdOff = dv.getUint32(eocd + 16, true);
  if (cdOff === 0xffffffff || count === 0xffff) {
    // ZIP64 end of central directory locator precedes the EOCD.
    const loc = eocd - 20;
    if (loc < 0 || dv.getUint32(loc, true) !== 0x07064b50) throw new Error(`${source}: corrupt zip64 archive`);
    const z64 = Number(dv.getBigUint64(loc + 8, true));
    if (z64 + 56 > buf.length || dv.getUint32(z64, true) !== 0x06064b50) throw new Error(`${source}: corrupt zip64 archive`);
    count = Number(dv.getBigUint64(z64 + 32, true));
    cdOff = Number(dv.getBigUint64(z64 + 48, true));
  }
  const out = new Map<string, ZipEntry>();
  let p = cdOff;
  for (let i = 0; i < count; i++) {
    if (p + 46 > buf.length || dv.getUint32(p, true) !== 0x02014b50) throw new Error(`${source}: corrupt zip central directory`);
    const method = dv.getUint16(p + 10, true);
    let compSize = dv.getUint32(p + 20, true),
      size = dv.getUint32(p + 24, true);
    const nameLen = dv.getUint16(p + 28, true),
      extraLen = dv.getUint16(p + 30, true),
      commentLen = dv.getUint16(p + 32, true);
    let local = dv.getUint32(p + 42, true);
    const name = new TextDecoder().decode(buf.subarray(p + 46, p + 46 + nameLen));
    // ZIP64 extra field (bounds-checked: a corrupt length must not read past the archive).
    let e = p + 46 + nameLen;
    const eEnd = e + extraLen;
    if (eEnd + commentLen > buf.length) throw new Error(`${source}: corrupt zip central directory (entry ${name} runs past the end of the file)`);
    while (e + 4 <= eEnd) {
      const id = dv.getUint16(e, true),
        len = dv.getUint16(e + 2, true);
      if (e + 4 + len > eEnd) throw new Error(`${source}: corrupt zip extra field in entry ${name}`);
      if (id === 1) {
        let q = e + 4;
        const take = () => {
          if (q + 8 > e + 4 + len) throw new Error(`${source}: corrupt zip64 extra field in entry ${name}`);
          const v = Number(dv.getBigUint64(q, true));
          q += 8;
          return v;
        };
        if (size === 0xffffffff) size = take();
        if (compSize === 0xffffffff) compSize = take();
        if (local === 0xffffffff) local = take();
      }
      e += 4 + len;
    }
    if (local + 30 > buf.length || dv.getUint32(local, true) !== 0x04034b50) throw new Error(`${source}: corrupt zip entry ${name}`);
    const dataOff = local + 30 + dv.getUint16(local + 26, true) + dv.getUint16(local + 28, true);
    if (dataOff + compSize > buf.length) throw new Error(`${source}: truncated zip entry ${name}`);
    out.set(name, { name, offset: dataOff, compSize, size, method });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

/** Deflate expands at most ~1032:1, so a larger declared size is corrupt or hostile. */
const MAX_DEFLATE_RATIO = 1032;

/**
 * An entry's bytes, never more than `limit`: a stored entry must fit in it, and inflation stops at
 * the declared size (a 3 MB archive can declare a 3 GiB storage; without the cap it exhausts memory).
 */
export function entryData(buf: Uint8Array, e: ZipEntry, source: string, limit: number): Uint8Array {
  if (e.size > limit) throw new Error(`${source}: zip entry ${e.name} declares ${e.size} bytes, more than the ${limit} it can hold`);
  if (e.method === 8 && e.size > e.compSize * MAX_DEFLATE_RATIO + 64)
    throw new Error(`${source}: zip entry ${e.name} declares ${e.size} bytes from ${e.compSize} compressed: corrupt or a decompression bomb`);
  const raw = buf.subarray(e.offset, e.offset + e.compSize);
  if (e.method === 0) return raw.subarray(0, Math.min(raw.length, limit));
  if (e.method === 8) {
    let out: Buffer;
    try {
      out = inflateRawSync(raw, { maxOutputLength: Math.max(1, e.size) });
    } catch (err) {
      throw new Error(`${source}: zip entry ${e.name} does not inflate to its declared ${e.size} bytes (${(err as Error).message.split('\n')[0]})`);
    }
    if (out.length !== e.size) throw new Error(`${source}: zip entry ${e.name} inflates to ${out.length} bytes, not its declared ${e.size}`);
    return out;
  }
  throw new Error(`${source}: zip entry ${e.name} uses unsupported compression ${e.method}`);
}
