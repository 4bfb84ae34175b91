// Atomic file writes: write a temporary file in the same folder, fsync, then rename over the
// target. Never replaces an existing file unless asked to.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export async function writeFileAtomic(target: string, data: Uint8Array | string, opts: { overwrite?: boolean } = {}): Promise<void> {
  const dir = path.dirname(target);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.${Date.now()}.tmp`);
  const fh = await fs.open(tmp, 'wx');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } catch (e) {
    // A failed write (a full disk) leaves no partial temporary file to fill what space is left.
    await fh.close().catch(() => {});
    await fs.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  try {
    if (opts.overwrite) {
      await fs.rename(tmp, target);
    } else {
      // link() fails if the target exists: no window in which another writer could be replaced.
      await fs.link(tmp, target).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') throw new Error(`${target} already exists; choose another path or allow overwriting`);
        throw e;
      });
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
