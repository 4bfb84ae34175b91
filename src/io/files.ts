// Reading whole input files safely: only regular files (a FIFO or /dev/zero would block or never
// end), with errors that name the file and say what is wrong.
import { promises as fs } from 'node:fs';

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
