// Image decoding (sharp) and PNG writing (pngjs), image grids.
import { promises as fs } from 'node:fs';
import sharp from 'sharp';
import { PNG } from 'pngjs';
import { writeFileAtomic } from '../files/atomic.js';
import { type FilePath, imageSource } from '../files/inputs.js';
import { OptionError } from '../files/option_error.js';

export type ResizeFilter = 'lanczos3' | 'lanczos2' | 'cubic' | 'mitchell' | 'linear' | 'nearest';
export const RESIZE_FILTERS: ResizeFilter[] = ['lanczos3', 'lanczos2', 'cubic', 'mitchell', 'linear', 'nearest'];

export interface DecodeOptions {
  resolution: number; // Output width and height.
  channels: 1 | 3; // 1 = grayscale, 3 = RGB.
  filter?: ResizeFilter; // Resampling filter (default lanczos3).
  requireSquare?: boolean; // Refuse non-square sources instead of center-cropping them.
  background?: [number, number, number]; // Alpha is composited onto this (default white).
}

/** Decodes one image file: EXIF orientation applied, center crop, resize, channel conversion. */
export async function decodeImage(file: FilePath, o: DecodeOptions): Promise<Uint8Array> {
  let img = sharp(await imageSource(file), { failOn: 'error' }).rotate(); // rotate() with no angle applies EXIF orientation
  const meta = await img.metadata();
  let w = meta.width ?? 0,
    h = meta.height ?? 0;
  if (meta.orientation && meta.orientation >= 5) [w, h] = [h, w];
  if (!w || !h) throw new Error('no image size');
  if (o.requireSquare && w !== h) throw new Error(`not square (${w}x${h})`);
  const bg = o.background ?? [255, 255, 255];
  img = img.flatten({ background: { r: bg[0], g: bg[1], b: bg[2] } });
  // Center crop to a square ('cover' at equal width and height), then resize.
  img = img.resize(o.resolution, o.resolution, { fit: 'cover', position: 'centre', kernel: o.filter ?? 'lanczos3' });
  if (o.channels === 1) img = img.grayscale();
  const { data, info } = await img.raw().toBuffer({ resolveWithObject: true });
  const c = o.channels;
  if (info.channels === c) return new Uint8Array(data.buffer, data.byteOffset, data.length);
  // sharp keeps 3 channels after grayscale() in some versions: take the first.
  const out = new Uint8Array(o.resolution * o.resolution * c);
  for (let i = 0; i < o.resolution * o.resolution; i++) for (let k = 0; k < c; k++) out[i * c + k] = data[i * info.channels + Math.min(k, info.channels - 1)];
  return out;
}

/** Encodes HWC uint8 pixels (1 or 3 channels) as PNG. */
export function encodePng(pixels: Uint8Array, width: number, height: number, channels: number): Buffer {
  const png = new PNG({ width, height, colorType: 6 });
  for (let i = 0; i < width * height; i++) {
    const r = pixels[i * channels];
    png.data[i * 4] = r;
    png.data[i * 4 + 1] = channels >= 3 ? pixels[i * channels + 1] : r;
    png.data[i * 4 + 2] = channels >= 3 ? pixels[i * channels + 2] : r;
    png.data[i * 4 + 3] = 255;
  }
  return PNG.sync.write(png);
}

export async function writePng(file: string, pixels: Uint8Array, width: number, height: number, channels: number, overwrite = false): Promise<void> {
  await writeFileAtomic(file, encodePng(pixels, width, height, channels), { overwrite });
}

/** Largest grid picture side: beyond it a grid is unviewable, and its buffer could exhaust memory. */
export const MAX_GRID_SIDE = 16384;

/** Refuses a COLSxROWS grid of `res`-pixel images whose picture would exceed MAX_GRID_SIDE a side. */
export function checkGrid([cols, rows]: [number, number], res: number, keys: string[] = ['grid']): void {
  if (cols * res > MAX_GRID_SIDE || rows * res > MAX_GRID_SIDE) {
    const most = Math.max(1, Math.floor(MAX_GRID_SIDE / res));
    throw new OptionError(
      (o) =>
        `${keys.map(o).join('/')} ${cols}x${rows} of ${res}px images makes a ${cols * res}x${rows * res} picture; keep it within ${MAX_GRID_SIDE} px a side (up to ${most}x${most} at ${res}px)`,
    );
  }
}

/**
 * Tiles N images (NHWC uint8) into a grid of `cols` columns (upstream save_image_grid layout:
 * row-major, gw across).
 */
export function tileGrid(images: Uint8Array, n: number, res: number, channels: number, cols: number): { pixels: Uint8Array; width: number; height: number } {
  const rows = Math.ceil(n / cols);
  const width = cols * res,
    height = rows * res;
  const out = new Uint8Array(width * height * channels);
  for (let k = 0; k < n; k++) {
    const gx = k % cols,
      gy = Math.floor(k / cols);
    for (let y = 0; y < res; y++) {
      const src = (k * res * res + y * res) * channels;
      const dst = ((gy * res + y) * width + gx * res) * channels;
      out.set(images.subarray(src, src + res * channels), dst);
    }
  }
  return { pixels: out, width, height };
}

/** Float NHWC images in [lo, hi] -> uint8 with upstream's rounding: (x - lo) * 255 / (hi - lo), rint, clip. */
export function toUint8(data: Float32Array | ArrayLike<number>, lo = -1, hi = 1): Uint8Array {
  const out = new Uint8Array(data.length);
  const s = 255 / (hi - lo);
  for (let i = 0; i < data.length; i++) {
    const v = Math.round((data[i] - lo) * s);
    out[i] = v < 0 ? 0 : Math.min(v, 255);
  }
  return out;
}

export async function isDirectory(p: string): Promise<boolean> {
  return fs.stat(p).then(
    (s) => s.isDirectory(),
    () => false,
  );
}
