// The one way the tests run the command line: `node dist/src/cli/main.js ...` as a child process,
// on the cpu backend unless the environment says otherwise, with a time limit (a hang fails).
import { type SpawnSyncReturns, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export const CLI = path.resolve('dist/src/cli/main.js');

export interface CliOptions {
  env?: Record<string, string>; // added to the environment
  timeout?: number; // ms (default 120 s)
}

/** Runs the CLI to its end; stdout and stderr as text. */
export function cli(...args: string[]): SpawnSyncReturns<string> {
  return cliWith({})(...args);
}

/** A `cli` with other environment variables or time limit. */
export function cliWith(o: CliOptions): (...args: string[]) => SpawnSyncReturns<string> {
  return (...args) =>
    spawnSync(process.execPath, [CLI, ...args], {
      encoding: 'utf8',
      timeout: o.timeout ?? 120_000,
      env: { ...process.env, STYLEGAN_RLO_BACKEND: process.env.STYLEGAN_RLO_BACKEND ?? 'cpu', ...o.env },
    });
}

/** The flags of a short `finetune` of `ckpt` on `data` into `runDir` (batch 4), with `extra` after them. */
export function tinyRunFlags(ckpt: string, data: string, runDir: string, kimg: string, ...extra: string[]): string[] {
  return ['finetune', '--network', ckpt, '--data', data, '--run-dir', runDir, '--batch', '4', '--kimg', kimg, ...extra];
}

/**
 * Resolves once process `pid` has mapped a file whose path ends with `name` (Linux: /proc/PID/maps):
 * a point in a command's start that a test can wait for, where a fixed delay races a loaded
 * machine. Rejects after `timeoutMs`.
 */
export async function untilMapped(pid: number, name: string, timeoutMs = 60_000): Promise<void> {
  for (const t0 = Date.now(); Date.now() - t0 < timeoutMs; await new Promise((r) => setTimeout(r, 20))) {
    const maps = await fs.readFile(`/proc/${pid}/maps`, 'utf8').catch(() => '');
    if (maps.split('\n').some((l) => l.endsWith(name))) return;
  }
  throw new Error(`process ${pid} had not mapped ${name} after ${timeoutMs / 1000} s`);
}
