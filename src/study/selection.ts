// Per-loss tuning: a selection study runs each loss over a grid of settings (learning-rate and R1
// gamma multipliers) on seeds of its own; each loss's setting is the one with the lowest mean
// kernel distance (KED/KID, the primary metric) at the last kimg; a setting with a diverged run
// ranks last. A confirmation study
// (`"tunedFrom": SELECTION_SPEC`) then runs each loss at its chosen setting on fresh seeds.
import { expandRuns, lossLabel, readStudySpec, type Setting, type StudyRun, type StudySpec } from './spec.js';
import { readMetricRecords, runState } from './runs.js';

/** How a run that diverged fails (train/run.ts). */
const DIVERGED = /^training diverged/;

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
    const last = (await readMetricRecords(spec, r, log)).find((x) => Math.abs(x.kimg - spec.kimg) < 1e-6);
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

/** A study's runs; for a confirmation study (tunedFrom), at the settings its selection study chose. */
export async function studyRuns(spec: StudySpec, log: (l: string) => void = () => {}): Promise<StudyRun[]> {
  if (!spec.tunedFrom) return expandRuns(spec);
  const sel = await readStudySpec(spec.tunedFrom);
  for (const k of ['network', 'data'] as const)
    if (sel[k] !== spec[k]) throw new Error(`study ${spec.out}: its ${k} differs from its selection study's (${spec.tunedFrom}); tune on what you confirm on`);
  const overlap = spec.seeds.filter((s) => sel.seeds.includes(s));
  if (overlap.length) throw new Error(`study ${spec.out}: seed ${overlap[0]} is also a selection seed of ${spec.tunedFrom}; confirm on fresh seeds`);
  const scores = await scoreSettings(sel, await expandRuns(sel), log);
  const tuned = new Map(scores.filter((s) => s.chosen).map((s) => [s.loss, { lrMult: s.lrMult, gammaMult: s.gammaMult }]));
  return expandRuns(spec, tuned);
}
