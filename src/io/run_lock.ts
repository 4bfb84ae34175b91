// One process at a time per run directory. The lock is a file (.lock) created with O_EXCL that
// names its holder (pid, host, start time); the holder refreshes its mtime while it runs. A lock
// is taken over only when its holder is known to be gone: on this host, when its pid no longer
// exists; from another host (a shared filesystem), when it has not been refreshed for STALE_MS.
import { promises as fs, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { RUN_FILES } from './run_layout.js';

const REFRESH_MS = 30_000;
const STALE_MS = 10 * 60_000; // a holder on another host that stayed silent this long is gone

export interface LockHolder {
  pid: number;
  host: string;
  since: string; // ISO time the lock was taken
}

export interface RunLock {
  readonly file: string;
  release(): Promise<void>;
}

/** Whether a process with this pid exists here (EPERM: it exists but is not ours). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readHolder(file: string): Promise<{ holder: LockHolder | null; mtimeMs: number } | null> {
  const st = await fs.stat(file).catch(() => null);
  if (!st) return null;
  const raw = await fs.readFile(file, 'utf8').catch(() => '');
  try {
    const h = JSON.parse(raw) as LockHolder;
    if (Number.isInteger(h.pid) && typeof h.host === 'string') return { holder: h, mtimeMs: st.mtimeMs };
  } catch {}
  return { holder: null, mtimeMs: st.mtimeMs }; // being written, or cut short by a crash
}

/** Lock files this process holds (a lock naming our pid that is not among them was left by an earlier process with the same pid). */
const heldHere = new Set<string>();

function holderGone(file: string, h: { holder: LockHolder | null; mtimeMs: number }, now: number): boolean {
  if (h.holder && h.holder.host === os.hostname()) return h.holder.pid === process.pid ? !heldHere.has(path.resolve(file)) : !processAlive(h.holder.pid);
  return now - h.mtimeMs > STALE_MS;
}

/**
 * Takes the lock of `runDir`, or throws a one-line error naming the process that holds it.
 * `what` says what the caller was about to do (for that message).
 */
export async function lockRunDir(runDir: string, what: string): Promise<RunLock> {
  const file = path.join(runDir, RUN_FILES.lock);
  const me: LockHolder = { pid: process.pid, host: os.hostname(), since: new Date().toISOString() };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const fh = await fs.open(file, 'wx');
      try {
        await fh.writeFile(`${JSON.stringify(me)}\n`);
      } finally {
        await fh.close();
      }
      return holdLock(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const h = await readHolder(file);
    if (!h) continue; // released meanwhile
    if (!h.holder && Date.now() - h.mtimeMs < 5_000) {
      await new Promise((r) => setTimeout(r, 200)); // a holder still writing its name
      continue;
    }
    if (!holderGone(file, h, Date.now())) {
      const who = h.holder ? `process ${h.holder.pid} on ${h.holder.host} (since ${h.holder.since})` : 'another process';
      throw new Error(`${runDir} is in use by ${who}; wait for it to finish or stop it before you ${what}`);
    }
    // A crashed holder: move its lock aside atomically (only one taker wins the rename), then retry.
    const stale = `${file}.stale.${process.pid}`;
    if (
      await fs.rename(file, stale).then(
        () => true,
        () => false,
      )
    )
      await fs.rm(stale, { force: true });
  }
  throw new Error(`could not lock ${runDir}: its lock changed hands repeatedly; try again`);
}

function holdLock(file: string): RunLock {
  heldHere.add(path.resolve(file));
  const timer = setInterval(() => {
    const now = new Date();
    fs.utimes(file, now, now).catch(() => {});
  }, REFRESH_MS);
  timer.unref();
  // A process that exits without releasing (process.exit on a signal) still removes its lock.
  const onExit = () => {
    try {
      const h = JSON.parse(readFileSync(file, 'utf8')) as LockHolder;
      if (h.pid === process.pid && h.host === os.hostname()) rmSync(file, { force: true });
    } catch {}
  };
  process.on('exit', onExit);
  let released = false;
  return {
    file,
    release: async () => {
      if (released) return;
      released = true;
      clearInterval(timer);
      process.off('exit', onExit);
      heldHere.delete(path.resolve(file));
      // Only our own lock is removed (a lock taken over after a long stall belongs to another).
      const h = await readHolder(file);
      if (h?.holder?.pid === process.pid && h.holder.host === os.hostname()) await fs.rm(file, { force: true });
    },
  };
}

/** Who holds the lock of `runDir` now, or null when nobody (or a process that is gone) does. */
export async function runDirHolder(runDir: string): Promise<LockHolder | null> {
  const file = path.join(runDir, RUN_FILES.lock);
  const h = await readHolder(file);
  if (!h || holderGone(file, h, Date.now())) return null;
  return h.holder;
}
