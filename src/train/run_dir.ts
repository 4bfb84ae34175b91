// Run directories: numbered names chosen without collisions, the snapshot to resume, and the
// clean-up a resume needs after a crash (stale temporary files, rows logged after the snapshot).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { writeFileAtomic } from '../files/atomic.js';
import { isRecordFile, latestSnapshot, listSnapshots } from '../io/run_layout.js';
import { processAlive } from '../io/run_lock.js';
import { OptionError } from '../files/option_error.js';

/** The refusal of a run directory that already exists; `resumeHint` adds how to continue it. */
export function runDirTaken(dir: string, resumeHint: boolean): OptionError {
  return new OptionError(
    (o) => `run directory ${dir} already exists; ${resumeHint ? `use ${o('resume')} ${dir} to continue it, or ` : ''}choose another ${o('runDir')}`,
  );
}

/** What a resume names: a run directory, or a snapshot file; refused when it does not exist. */
async function resumeTarget(p: string): Promise<{ isDirectory(): boolean }> {
  const st = await fs.stat(p).catch(() => null);
  if (!st) throw new OptionError((o) => `${o('resume')} ${p} does not exist`);
  return st;
}

/** The folder of what a resume names: a run directory itself, or the folder of a snapshot file. */
export async function resumeFolder(p: string): Promise<string> {
  return (await resumeTarget(p)).isDirectory() ? p : path.dirname(p);
}

/** The latest snapshot of a run directory, or the file itself. */
export async function resolveResume(p: string): Promise<string> {
  if (!(await resumeTarget(p)).isDirectory()) return p;
  const latest = await latestSnapshot(p);
  if (!latest) throw new OptionError((o) => `${o('resume')} ${p}: the run directory has no network-snapshot-*.safetensors to resume from`);
  return latest;
}

/**
 * Creates outdir/NNNNN-desc with the next free number, safe when several runs start at once: a
 * number is claimed by creating .claim-NNNNN (mkdir is atomic), checked to be unused while the
 * claim is held, and released once the run directory exists. A claim left by a killed process is
 * taken over after STALE_CLAIM_MS.
 */
export async function nextRunDir(outdir: string, desc: string): Promise<string> {
  await fs.mkdir(outdir, { recursive: true });
  const STALE_CLAIM_MS = 30_000;
  for (let attempt = 0; attempt < 1000; attempt++) {
    const entries = await fs.readdir(outdir);
    const ids = entries
      .map((d) => /^(\d+)-/.exec(d))
      .filter((m): m is RegExpExecArray => !!m)
      .map((m) => Number(m[1]));
    const id = ids.length ? Math.max(...ids) + 1 : 0;
    const num = String(id).padStart(5, '0');
    const claim = path.join(outdir, `.claim-${num}`);
    const claimed = await fs.mkdir(claim).then(
      () => true,
      (e: NodeJS.ErrnoException) => {
        if (e.code === 'EEXIST') return false;
        throw e;
      },
    );
    if (!claimed) {
      const st = await fs.stat(claim).catch(() => null);
      if (st && Date.now() - st.mtimeMs > STALE_CLAIM_MS) await fs.rmdir(claim).catch(() => {});
      else await new Promise((r) => setTimeout(r, 5 + ((process.pid + attempt) % 16))); // a wait that differs between processes, not a training draw
      continue;
    }
    try {
      if ((await fs.readdir(outdir)).some((d) => d.startsWith(`${num}-`))) continue; // taken meanwhile
      const dir = path.join(outdir, `${num}-${desc}`);
      await fs.mkdir(dir);
      return dir;
    } finally {
      await fs.rmdir(claim).catch(() => {});
    }
  }
  throw new Error(`could not choose a run number in ${outdir}: too many runs starting at once`);
}

/** Creates an explicitly named run directory, which must not exist. */
export async function makeNamedRunDir(dir: string, resumeHint: boolean): Promise<void> {
  await fs.mkdir(path.dirname(path.resolve(dir)), { recursive: true });
  await fs.mkdir(dir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'EEXIST') {
      throw runDirTaken(dir, resumeHint);
    }
    if (e.code === 'ENOTDIR') throw new OptionError((o) => `${o('runDir')} ${dir}: a parent of it is a file; choose another ${o('runDir')}`);
    throw e;
  });
}

/**
 * Refuses to continue a snapshot in place when the run directory already holds later ones: their
 * names would collide with the new snapshots, and the training would be lost at the first one.
 */
export async function checkResumeInPlace(snapshot: string, kimg: number): Promise<void> {
  const later = (await listSnapshots(path.dirname(snapshot))).filter((s) => s.kimg > kimg + 1e-9);
  if (later.length) {
    const last = later[later.length - 1];
    throw new OptionError(
      (o) =>
        `${o('resume')} ${snapshot}: the run directory already has ${later.length} later snapshot(s), up to kimg ${last.kimg.toFixed(3)}; ` +
        `resume the run directory to continue from the latest, or add ${o('runDir')} NEW_DIR to branch from this one`,
    );
  }
}

/**
 * Makes a run directory ready to continue at `kimg` after any kind of stop, including SIGKILL:
 * removes temporary files left by writers that no longer run, and drops the rows of stats.jsonl
 * and metric-*.jsonl logged after that kimg (they are logged again as the run repeats that
 * stretch), along with any line a crash cut short.
 */
export async function tidyForResume(runDir: string, kimg: number): Promise<{ removedTemp: number; droppedRows: number }> {
  let removedTemp = 0,
    droppedRows = 0;
  for (const f of await fs.readdir(runDir)) {
    const m = /^\..+\.(\d+)\.\d+\.tmp$/.exec(f);
    if (m && !processAlive(Number(m[1]))) {
      await fs.rm(path.join(runDir, f), { force: true });
      removedTemp++;
    }
    if (isRecordFile(f)) {
      const file = path.join(runDir, f);
      const lines = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l.trim());
      const kept = lines.filter((l) => {
        try {
          const r = JSON.parse(l) as { kimg?: unknown };
          return typeof r.kimg === 'number' && r.kimg <= kimg + 1e-9;
        } catch {
          return false;
        }
      });
      if (kept.length !== lines.length) {
        droppedRows += lines.length - kept.length;
        await writeFileAtomic(file, kept.map((l) => `${l}\n`).join(''), { overwrite: true });
      }
    }
  }
  return { removedTemp, droppedRows };
}
