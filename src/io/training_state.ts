// The training record a run keeps: its resolved options (training_options.json) and, in every
// snapshot, the complete state to resume it exactly. One set of types for the trainer, the run
// loop, `info` and `compare`; readers check the shape before trusting a file.
import type { TrainingOptions, TrainingState } from '../records.js';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { RUN_FILES } from './run_layout.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A checkpoint's training record, or null when it has none (an exported network); refuses a malformed one. */
export function trainingStateOf(training: unknown, source: string): TrainingState | null {
  if (training === undefined || training === null) return null;
  const t = training as Record<string, unknown>;
  const ok =
    isObject(t) &&
    isObject(t.options) &&
    isObject(t.trainer) &&
    typeof (t.trainer as Record<string, unknown>).curNimg === 'number' &&
    t.rng !== undefined &&
    isObject(t.sampler) &&
    Array.isArray((t.sampler as Record<string, unknown>).order);
  if (!ok) throw new Error(`${source}: the checkpoint's training state is incomplete or malformed`);
  return t as unknown as TrainingState;
}

/** The options a run directory was started with (training_options.json). */
export async function readTrainingOptions(runDir: string): Promise<TrainingOptions> {
  const f = path.join(runDir, RUN_FILES.options);
  let o: unknown;
  try {
    o = JSON.parse(await fs.readFile(f, 'utf8'));
  } catch {
    throw new Error(`${runDir} is not a run directory (no readable training_options.json)`);
  }
  if (!isObject(o) || typeof o.loss !== 'string' || typeof o.data !== 'string') throw new Error(`${f}: not the options of a training run`);
  return o as unknown as TrainingOptions;
}
