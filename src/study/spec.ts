// A loss study, declared in one JSON file: the network and data, how long each run trains and how
// it is evaluated, and the grid (losses with their k, learning-rate and R1-gamma multipliers,
// training seeds, any other finetune option). Every run of the grid is an ordinary `finetune` with
// those options, in OUT/runs/<run id>, so a study run and a hand-started run are the same thing.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { loadNetwork } from '../io/network.js';
import type { FinetuneArgs } from '../records.js';
import { DEFAULTS } from '../train/defaults.js';
import { FINETUNE_OPTIONS } from '../train/option_table.js';

export interface StudySpec {
  network: string; // a network file (paths are relative to the spec's folder)
  data: string; // the image folder
  out: string; // the study folder: runs/, status/ and the report
  // Each finished run's record (its end and its metric records, a few KB), kept apart from the run
  // directories so that it can be committed: a run with a record is finished wherever it ran.
  records: string;
  kimg: number; // each run's length
  snapKimg: number; // kimg between evaluated snapshots
  metrics: { features: 'emoji' | 'inception'; num: number; inception?: string };
  losses: { loss: 'logistic' | 'rooted'; k?: number | number[] }[];
  lrMultipliers: number[]; // of the default learning rate, G and D together
  gammaMultipliers: number[]; // of the R1 gamma (the options' gamma, else upstream's default for the network)
  seeds: number[]; // training seeds
  options: Partial<FinetuneArgs>; // any other finetune option, the same for every run
  tunedFrom: string | null; // a selection study (its spec or its report's results.json): each loss runs at the setting it chose (instead of the multipliers)
  // CPU threads per run (OMP_NUM_THREADS), whatever executes it. Thread counts split float sums
  // differently, and over a run of many iterations the difference grows like another seed's: fix
  // it for numbers that reproduce. Null: the executor's choice (local: the cores divided among --jobs).
  threads: number | null;
}

/** The learning-rate and R1-gamma multipliers a loss runs with. */
export interface Setting {
  lrMult: number;
  gammaMult: number;
}

/** What a loss is compared as, setting aside: "logistic", "rooted k=2". */
export const lossLabel = (loss: 'logistic' | 'rooted', k: number | null) => (loss === 'rooted' ? `rooted k=${k}` : 'logistic');

/** One run of a study. */
export interface StudyRun {
  id: string; // its folder name: logistic-lr1-g1-s0
  variant: string; // what it is compared as: "rooted k=2" (with "lr x0.5, gamma x10" when not 1)
  loss: 'logistic' | 'rooted';
  k: number | null;
  lrMult: number;
  gammaMult: number;
  seed: number;
  runDir: string;
  args: FinetuneArgs;
}

const KEYS = [
  'network',
  'data',
  'out',
  'records',
  'kimg',
  'snapKimg',
  'metrics',
  'losses',
  'lrMultipliers',
  'gammaMultipliers',
  'seeds',
  'options',
  'tunedFrom',
  'threads',
];

/** Reads and checks a spec; every refusal is one line naming the key. Paths become absolute. */
export async function readStudySpec(file: string): Promise<StudySpec> {
  let raw: unknown;
  try {
    raw = JSON.parse(await fs.readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(
      (e as NodeJS.ErrnoException).code === 'ENOENT' ? `study spec ${file} does not exist` : `study spec ${file} is not valid JSON: ${(e as Error).message}`,
    );
  }
  const bad = (key: string, want: string): never => {
    throw new Error(`study spec ${file}: "${key}" ${want}`);
  };
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) bad('(top level)', 'must be a JSON object');
  const s = raw as Record<string, unknown>;
  for (const k of Object.keys(s)) if (!KEYS.includes(k)) bad(k, `is not a study key (known: ${KEYS.join(', ')})`);
  const dir = path.dirname(path.resolve(file));
  const str = (k: string) => (typeof s[k] === 'string' && s[k] ? path.resolve(dir, s[k] as string) : bad(k, 'must be a path'));
  const pos = (k: string, v: unknown) => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : bad(k, 'must be a number > 0'));
  const list = (k: string, check: (v: number) => boolean, want: string, def?: number[]): number[] => {
    const v = s[k] ?? def;
    if (!Array.isArray(v) || !v.length || !v.every((x) => typeof x === 'number' && check(x))) return bad(k, want);
    if (new Set(v).size !== v.length) bad(k, 'lists a value twice');
    return v as number[];
  };
  const m = (s.metrics ?? { features: 'emoji', num: 2000 }) as Record<string, unknown>;
  if (typeof m !== 'object' || (m.features !== 'emoji' && m.features !== 'inception'))
    bad('metrics.features', 'must be "emoji" (FED/KED) or "inception" (FID/KID)');
  if (!(Number.isInteger(m.num) && (m.num as number) >= 2)) bad('metrics.num', 'must be a whole number of generated images >= 2');
  if (m.features === 'inception' && typeof m.inception !== 'string') bad('metrics.inception', 'must name the Inception weights file for FID');
  const losses = s.losses;
  if (!Array.isArray(losses) || !losses.length) bad('losses', 'must be a list such as [{"loss": "logistic"}, {"loss": "rooted", "k": [2, 4]}]');
  (losses as unknown[]).forEach((l, i) => {
    const e = l as Record<string, unknown>;
    if (e?.loss !== 'logistic' && e?.loss !== 'rooted') bad(`losses[${i}].loss`, 'must be "logistic" or "rooted"');
    const ks = e.k === undefined ? [] : Array.isArray(e.k) ? e.k : [e.k];
    if (e.loss === 'rooted' && (!ks.length || !ks.every((k) => typeof k === 'number' && k > 0)))
      bad(`losses[${i}].k`, 'must be a number > 0 or a list of them');
    if (e.loss === 'logistic' && ks.length) bad(`losses[${i}].k`, 'applies to the rooted loss only');
  });
  const options = (s.options ?? {}) as Record<string, unknown>;
  if (typeof options !== 'object' || Array.isArray(options)) bad('options', 'must be an object of finetune options');
  const managed = [
    'network',
    'data',
    'kimg',
    'tick',
    'snap',
    'loss',
    'k',
    'seed',
    'glr',
    'dlr',
    'runDir',
    'resume',
    'outdir',
    'metrics',
    'metricsNum',
    'inception',
  ];
  if (s.threads !== undefined && !(Number.isInteger(s.threads) && (s.threads as number) >= 1))
    bad('threads', 'must be a whole number of CPU threads per run, 1 or more');
  if (s.tunedFrom !== undefined) {
    if (typeof s.tunedFrom !== 'string' || !s.tunedFrom) bad('tunedFrom', "must be the path of the selection study's spec or of its report's results.json");
    for (const k of ['lrMultipliers', 'gammaMultipliers'])
      if (s[k] !== undefined) bad(k, 'cannot be given with "tunedFrom" (each loss runs at the setting its selection chose)');
  }
  for (const k of Object.keys(options)) {
    if (managed.includes(k)) bad(`options.${k}`, 'is set by the study itself (its own key, or the grid)');
    if (!FINETUNE_OPTIONS.some((o) => o.key === k)) bad(`options.${k}`, 'is not a finetune option');
  }
  return {
    network: str('network'),
    data: str('data'),
    out: str('out'),
    records: s.records === undefined ? path.resolve(dir, s.out as string, 'records') : str('records'),
    kimg: pos('kimg', s.kimg),
    snapKimg: pos('snapKimg', s.snapKimg ?? 0.5),
    metrics: {
      features: m.features as 'emoji' | 'inception',
      num: m.num as number,
      ...(m.inception ? { inception: path.resolve(dir, m.inception as string) } : {}),
    },
    losses: losses as StudySpec['losses'],
    lrMultipliers: list('lrMultipliers', (v) => v > 0 && Number.isFinite(v), 'must be a list of numbers > 0', [1]),
    gammaMultipliers: list('gammaMultipliers', (v) => v >= 0 && Number.isFinite(v), 'must be a list of numbers >= 0', [1]),
    seeds: list('seeds', (v) => Number.isInteger(v) && v >= 0, 'must be a list of whole numbers >= 0 (at least 2 for statistics)'),
    options: options as Partial<FinetuneArgs>,
    tunedFrom: typeof s.tunedFrom === 'string' ? path.resolve(dir, s.tunedFrom) : null,
    threads: (s.threads as number | undefined) ?? null,
  };
}

const multText = (x: number) => String(x).replace('.', 'p');

/**
 * Every run of the grid, in a fixed order (the order of the spec's lists). A spec with `tunedFrom`
 * needs `tuned`: each loss's chosen setting by its label (study/selection.ts resolves it).
 */
export async function expandRuns(spec: StudySpec, tuned?: Map<string, Setting>): Promise<StudyRun[]> {
  if (spec.tunedFrom && !tuned) throw new Error(`study ${spec.out}: its settings come from the selection study ${spec.tunedFrom}; resolve them first`);
  // R1 gamma multipliers apply to the options' gamma, else to upstream's default for this network.
  let gamma0 = spec.options.gamma;
  if (gamma0 === undefined) {
    const res = (await loadNetwork(spec.network)).G_kwargs.img_resolution;
    gamma0 = (DEFAULTS.gammaPerPixel * res * res) / (spec.options.batch ?? DEFAULTS.batch);
  }
  const runs: StudyRun[] = [];
  for (const l of spec.losses) {
    const ks = l.loss === 'rooted' ? (Array.isArray(l.k) ? l.k : [l.k as number]) : [null];
    for (const k of ks) {
      const chosen = tuned?.get(lossLabel(l.loss, k));
      if (tuned && !chosen) throw new Error(`the selection study ${spec.tunedFrom} has no ${lossLabel(l.loss, k)} runs to choose a setting from`);
      const settings = chosen ? [chosen] : spec.lrMultipliers.flatMap((lrMult) => spec.gammaMultipliers.map((gammaMult) => ({ lrMult, gammaMult })));
      for (const { lrMult, gammaMult } of settings)
        for (const seed of spec.seeds) {
          const id = `${l.loss}${k !== null ? `-k${multText(k)}` : ''}-lr${multText(lrMult)}-g${multText(gammaMult)}-s${seed}`;
          const tuning = [lrMult !== 1 ? `lr x${lrMult}` : '', gammaMult !== 1 ? `gamma x${gammaMult}` : ''].filter(Boolean).join(', ');
          const runDir = path.join(spec.out, 'runs', id);
          runs.push({
            id,
            variant: `${lossLabel(l.loss, k)}${tuning ? ` (${tuning})` : ''}`,
            loss: l.loss,
            k,
            lrMult,
            gammaMult,
            seed,
            runDir,
            args: {
              ...spec.options,
              network: spec.network,
              data: spec.data,
              kimg: spec.kimg,
              tick: spec.snapKimg,
              snap: 1,
              loss: l.loss,
              ...(k !== null ? { k } : {}),
              seed,
              glr: DEFAULTS.lr * lrMult,
              dlr: DEFAULTS.lr * lrMult,
              gamma: gamma0 * gammaMult,
              metrics: [spec.metrics.features === 'emoji' ? 'fed' : 'fid'],
              metricsNum: spec.metrics.num,
              inception: spec.metrics.inception ?? null,
              runDir,
            },
          });
        }
    }
  }
  return runs;
}

/**
 * The order in which executors start runs: seed by seed, setting by setting, every loss of a
 * setting before the next setting, so that a study stopped part way has the same settings and
 * seeds of every loss to compare (the spec's order, loss by loss, would finish one loss first).
 */
export function executionOrder(spec: StudySpec, runs: StudyRun[]): StudyRun[] {
  // A tuned study has one setting per loss, not from its multiplier lists: the seed alone orders it.
  const at = (list: number[], x: number) => (spec.tunedFrom ? 0 : list.indexOf(x));
  const key = (r: StudyRun) => [spec.seeds.indexOf(r.seed), at(spec.lrMultipliers, r.lrMult), at(spec.gammaMultipliers, r.gammaMult)];
  return runs
    .map((r, i) => ({ r, i, k: key(r) }))
    .sort((a, b) => a.k[0] - b.k[0] || a.k[1] - b.k[1] || a.k[2] - b.k[2] || a.i - b.i)
    .map((x) => x.r);
}
