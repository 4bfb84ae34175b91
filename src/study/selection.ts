// Per-loss tuning: a selection study runs each loss over a grid of settings (learning-rate and R1
// gamma multipliers) on seeds of its own; each loss's setting is the one with the lowest mean
// kernel distance (KED/KID, the primary metric) at the last kimg; a setting with a diverged run
// ranks last. A confirmation study (`"tunedFrom"`: the selection's spec, or its report's
// results.json) then runs each loss at its chosen setting on fresh seeds.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { expandRuns, lossLabel, readStudySpec, type Setting, type StudyRun, type StudySpec } from './spec.js';
import { DIVERGED, evaluationSchedule, readMetricRecords, runState } from './runs.js';

export interface SettingScore extends Setting {
  loss: string; // "rooted k=2"
  kernel: number; // mean kernel distance at the last kimg over the setting's seeds (Infinity when a run failed)
  failed: number; // runs of the setting that diverged
  chosen: boolean;
}

/** Scores every setting of every loss of a finished study; throws, naming what is missing, when a run is not done. */
export async function scoreSettings(spec: StudySpec, runs: StudyRun[], log: (l: string) => void = () => {}): Promise<SettingScore[]> {
  const groups = new Map<string, { loss: string; lrMult: number; gammaMult: number; values: number[]; failed: number }>();
  const unfinished: string[] = [];
  for (const r of runs) {
    const key = `${lossLabel(r.loss, r.k)}|${r.lrMult}|${r.gammaMult}`;
    const g = groups.get(key) ?? { loss: lossLabel(r.loss, r.k), lrMult: r.lrMult, gammaMult: r.gammaMult, values: [], failed: 0 };
    groups.set(key, g);
    const st = await runState(spec, r);
    // A diverged run is a result (the setting is unstable); any other failure is not, and must run again.
    if (st.state === 'failed' && DIVERGED.test(st.detail)) {
      g.failed++;
      continue;
    }
    // The run's end: the first multiple of the batch at or past the study's kimg.
    const end = evaluationSchedule(spec, r).at(-1)!;
    const last = (await readMetricRecords(spec, r, log)).find((x) => Math.abs(x.kimg - end) < 1e-9);
    if (st.state !== 'done' || !last || last.kernel === null) unfinished.push(r.id);
    else g.values.push(last.kernel);
  }
  if (unfinished.length)
    throw new Error(
      `the selection study ${spec.out} is not finished (${unfinished.length} run(s) without a result at ${spec.kimg} kimg, e.g. ${unfinished[0]}); run it first`,
    );
  const scores = [...groups.values()].map((g) => ({
    loss: g.loss,
    lrMult: g.lrMult,
    gammaMult: g.gammaMult,
    kernel: g.failed ? Infinity : g.values.reduce((a, b) => a + b, 0) / g.values.length,
    failed: g.failed,
    chosen: false,
  }));
  for (const loss of new Set(scores.map((s) => s.loss))) {
    const best = scores.filter((s) => s.loss === loss).reduce((a, b) => (b.kernel < a.kernel ? b : a));
    best.chosen = true;
  }
  return scores;
}

/** What a confirmation needs of its selection study: what it trained on, its seeds, and each loss's choice. */
interface Selection {
  network: string;
  data: string;
  seeds: number[];
  scores: SettingScore[];
}

/**
 * The selection `tunedFrom` names: a selection spec, scored from its runs, or the results.json its
 * report wrote (what gets committed, so that a confirmation can run where the selection's run
 * directories are not). A report names its network and data relative to its study folder; they
 * are taken relative to the confirmation's (study folders side by side, as `runs/<study>` are).
 */
async function readSelection(file: string, confirmOut: string, log: (l: string) => void): Promise<Selection> {
  let raw: Record<string, unknown> | null = null;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch {
    // Not JSON, or missing: readStudySpec says which.
  }
  if (raw && typeof raw === 'object' && 'selection' in raw) {
    const r = raw as { spec?: { network?: string; data?: string; seeds?: number[] }; selection?: SettingScore[] | null; missing?: string[] };
    if (!Array.isArray(r.selection) || !r.selection.length || !r.spec?.network || !r.spec.data || !Array.isArray(r.spec.seeds))
      throw new Error(`${file} is not the report of a finished selection study (it chose no settings); finish the selection and report it again`);
    if (r.missing?.length)
      throw new Error(
        `${file} reports a selection with ${r.missing.length} run(s) without a result (e.g. ${r.missing[0]}); finish the selection and report it again`,
      );
    return { network: path.resolve(confirmOut, r.spec.network), data: path.resolve(confirmOut, r.spec.data), seeds: r.spec.seeds, scores: r.selection };
  }
  const sel = await readStudySpec(file);
  return { network: sel.network, data: sel.data, seeds: sel.seeds, scores: await scoreSettings(sel, await expandRuns(sel), log) };
}

/** A study's runs; for a confirmation study (tunedFrom), at the settings its selection study chose. */
export async function studyRuns(spec: StudySpec, log: (l: string) => void = () => {}): Promise<StudyRun[]> {
  if (!spec.tunedFrom) return expandRuns(spec);
  const sel = await readSelection(spec.tunedFrom, spec.out, log);
  for (const k of ['network', 'data'] as const)
    if (sel[k] !== spec[k]) throw new Error(`study ${spec.out}: its ${k} differs from its selection study's (${spec.tunedFrom}); tune on what you confirm on`);
  const overlap = spec.seeds.filter((s) => sel.seeds.includes(s));
  if (overlap.length) throw new Error(`study ${spec.out}: seed ${overlap[0]} is also a selection seed of ${spec.tunedFrom}; confirm on fresh seeds`);
  const tuned = new Map(sel.scores.filter((s) => s.chosen).map((s) => [s.loss, { lrMult: s.lrMult, gammaMult: s.gammaMult }]));
  return expandRuns(spec, tuned);
}
