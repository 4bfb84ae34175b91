// Reading whole input files safely: only regular files (a FIFO or /dev/zero would block or never
// end), with errors that name the file and say what is wrong.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { OptionError } from './option_error.js';

/**
 * A file's path: a string where its bytes are UTF-8, else the raw bytes (Linux file names need not
 * be UTF-8, and a string would name another file).
 */
export type FilePath = string | Buffer;

/** A path as it can be shown: invalid UTF-8 bytes written as \xNN. */
export function displayPath(p: FilePath): string {
  if (typeof p === 'string') return p;
  let out = '';
  let i = 0;
  const dec = new TextDecoder('utf-8', { fatal: true });
  while (i < p.length) {
    // The longest valid UTF-8 sequence at i (1 to 4 bytes), else one escaped byte.
    let n = 0;
    for (let k = Math.min(4, p.length - i); k >= 1 && !n; k--) {
      try {
        out += dec.decode(p.subarray(i, i + k));
        n = k;
      } catch {}
    }
    if (!n) {
      out += `\\x${p[i].toString(16).padStart(2, '0')}`;
      n = 1;
    }
    i += n;
  }
  return out;
}

/** Largest image file read whole (the decoder's pixel limit guards the decoded size). */
const MAX_IMAGE_FILE_BYTES = 2 ** 30;

/**
 * What an image decoder (sharp) is given for a file: its path where that is a string, else its
 * bytes (sharp takes a Buffer as image data, not as a file name).
 */
export async function imageSource(file: FilePath): Promise<string | Buffer> {
  if (typeof file === 'string') return file;
  const st = await fs.stat(file);
  if (!st.isFile()) throw new Error('not a regular file');
  if (st.size > MAX_IMAGE_FILE_BYTES) throw new Error(`${st.size} bytes; image files over ${MAX_IMAGE_FILE_BYTES} bytes are not read`);
  return fs.readFile(file);
}

/** The bytes of a regular file; `what` names it in errors ("network file", "Inception weights"). */
export async function readRegularFile(file: string, what = 'file'): Promise<Buffer> {
  const st = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    throw new Error(e.code === 'ENOENT' ? `${what} ${file} does not exist` : `cannot read ${what} ${file}: ${e.code ?? e.message}`);
  });
  if (st.isDirectory()) throw new Error(`${file} is a folder, not a ${what}`);
  if (!st.isFile()) throw new Error(`${file} is not a regular file (a device, FIFO or socket); give a ${what} on disk`);
  try {
    return await fs.readFile(file);
  } catch (e) {
    throw new Error(`cannot read ${what} ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/**
 * Checks, before any work, that `dir` is or can become a folder: it and its nearest existing
 * ancestor must be folders. Nothing is created. `key` is the option that names it ("outdir").
 */
export async function checkOutputFolder(dir: string, key: string): Promise<void> {
  let p = path.resolve(dir);
  for (;;) {
    const st = await fs.stat(p).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' || e.code === 'ENOTDIR' ? null : Promise.reject(e)));
    if (st && !st.isDirectory()) {
      throw new OptionError((o) =>
        p === path.resolve(dir)
          ? `${o(key)} ${dir} is a file, not a folder; choose another ${o(key)}`
          : `${o(key)} ${dir} lies under ${p}, which is a file; choose another ${o(key)}`,
      );
    }
    if (st) return;
    const parent = path.dirname(p);
    if (parent === p) return;
    p = parent;
  }
}

/** Refuses, before any work, when an output that would be written already exists (unless `force`). */
export async function checkNoOverwrite(dir: string, names: string[], force: boolean): Promise<void> {
  if (force) return;
  for (const n of names) {
    if (
      await fs.stat(path.join(dir, n)).then(
        () => true,
        () => false,
      )
    )
      throw new OptionError((o) => `${path.join(dir, n)} already exists; add ${o('force')} to replace it, or choose another folder`);
  }
}
