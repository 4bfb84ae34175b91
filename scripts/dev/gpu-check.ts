// The prepared GPU check (scripts/gpu-check.sh runs it, from the repository or from the bundle that
// `gpu-check.sh bundle` makes): on the webgpu backend it runs (a) the tiny16 and training-loop
// parity suites, (b) the training-iteration bench at 64 and 256 px, batch 16 and 32, ours and
// upstream stylegan2-ada-pytorch on PyTorch CUDA alternating in one run, (c) each training phase's
// peak memory at 256 px batch 16, ours and upstream's, (d) a short fine-tune of the bundled network
// that writes a grid; and writes everything into one JSON. Each step has a
// time limit inside a total budget, so that the check ends in time whatever hangs; a step that
// fails or runs out of time is recorded with its reason and the check goes on.
// On a software adapter (SwiftShader: no GPU) or with --quick, it runs the same steps on tiny shapes.
//   node dist/scripts/dev/gpu-check.js [--out gpu-check.json] [--upstream DIR] [--python python3]
//                                      [--budget 450] [--quick]
import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../src/files/atomic.js';
import { fakesKimg, RUN_FILES, snapshotKimg } from '../../src/io/run_layout.js';
import { arg, flag } from '../lib/args.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

interface StepResult {
  ok: boolean;
  seconds: number;
  error?: string; // why it failed, ran out of time or was skipped
  [k: string]: unknown;
}

// The steps' process groups: stopping the check stops them (a detached child outlives its parent).
const running = new Set<number>();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    for (const pid of running) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
    process.exit(1);
  });

/** Runs node (this binary) with `args` in the repository, killed at `limitS`; resolves with its output. */
function runNode(
  args: string[],
  limitS: number,
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string; timedOut: boolean; seconds: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    // Without NODE_TEST_CONTEXT: under a test runner (npm test), a nested `node --test` would
    // otherwise skip its files with a warning and exit 0.
    const { NODE_TEST_CONTEXT: _, ...inherited } = process.env;
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.add(child.pid!);
    let out = '',
      err = '',
      timedOut = false;
    child.stdout.on('data', (d) => {
      out += d;
    });
    child.stderr.on('data', (d) => {
      err += d;
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid!, 'SIGKILL'); // the whole group: a bench's PyTorch peer too
      } catch {
        child.kill('SIGKILL');
      }
    }, limitS * 1000);
    child.on('close', (code) => {
      running.delete(child.pid!);
      clearTimeout(timer);
      resolve({ code, out, err, timedOut, seconds: (performance.now() - t0) / 1000 });
    });
  });
}

const lastLine = (s: string) => s.trim().split('\n').filter(Boolean).at(-1) ?? '';
const failure = (r: { code: number | null; err: string; timedOut: boolean }, limitS: number) =>
  r.timedOut ? `ran out of its ${Math.round(limitS)} s` : `exit ${r.code}: ${lastLine(r.err)}`;

/** The adapter webgpu starts on, in a child process (its device is released when it exits). */
async function adapter(limitS: number): Promise<StepResult & { description?: string; software?: boolean }> {
  const code = `import('${path.join(ROOT, 'dist', 'src', 'backend.js')}').then(async (b) => { const r = await b.initBackend('webgpu', false); console.log(JSON.stringify({ description: r.description, software: !r.gpu })); await b.releaseBackend(); process.exit(0); }).catch((e) => { console.error(e.message); process.exit(1); })`;
  const r = await runNode(['--input-type=module', '-e', code], limitS);
  if (r.code !== 0) return { ok: false, seconds: r.seconds, error: failure(r, limitS) };
  return { ok: true, seconds: r.seconds, ...JSON.parse(lastLine(r.out)) };
}

/** The parity suites on webgpu (node's test runner, TAP: the pass and fail counts and the failed tests' names). */
async function parity(limitS: number): Promise<StepResult> {
  const files = ['unit/parity.test.js', 'unit/training_loop.test.js'].map((f) => path.join('dist', 'test', f));
  // The suites pick webgpu by name; their other setup runs on the tests' default backend (cpu),
  // whatever STYLEGAN_RLO_BACKEND the check was started with.
  const r = await runNode(['--import', './dist/test/setup.js', '--test', '--test-reporter=tap', '--test-name-pattern=webgpu', ...files], limitS, {
    STYLEGAN_RLO_BACKEND: 'cpu',
  });
  const count = (k: string) => Number(new RegExp(`^# ${k} (\\d+)`, 'm').exec(r.out)?.[1] ?? Number.NaN);
  const failed = [...r.out.matchAll(/^\s*not ok \d+ - (.*)$/gm)].map((m) => m[1]).filter((n) => !/# SKIP/.test(n));
  // TAP puts a failure's message in a YAML block: `error: 'text'` or `error: |-` then the text.
  const why = /^\s*error: (?:\|-?\s*\n\s*)?'?(.+?)'?$/m.exec(r.out)?.[1];
  const pass = count('pass'),
    fail = count('fail');
  const ok = r.code === 0 && fail === 0 && pass > 0;
  return {
    ok,
    seconds: r.seconds,
    pass,
    fail,
    failed,
    ...(ok ? {} : { error: why && !r.timedOut ? `${failed[0] ?? 'a test'} failed: ${why}` : failure(r, limitS) }),
  };
}

/** One bench configuration, ours against the peer when there is one. */
async function bench(config: string, batch: number, peer: string[], limitS: number, iters: string[]): Promise<StepResult> {
  const r = await runNode(
    ['dist/scripts/dev/bench.js', '--config', config, '--batch', String(batch), '--backend', 'webgpu', '--no-inception', '--json', ...iters, ...peer],
    limitS,
  );
  if (r.code !== 0) return { ok: false, seconds: r.seconds, config, batch, error: failure(r, limitS) };
  const b = JSON.parse(r.out);
  return {
    ok: true,
    seconds: r.seconds,
    config,
    batch,
    msPerIter: b.ours.msPerIter,
    peerMsPerIter: b.peer?.msPerIter ?? null,
    oursOverPeer: b.peer ? b.ours.msPerIter / b.peer.msPerIter : null,
    gpuMB: b.ours.gpuMB,
    peerGpuMB: b.peer?.gpuMB ?? null,
    peerGpuAllocatedMB: b.peer?.gpuAllocatedMB ?? null,
    peer: b.peer?.what ?? null,
    result: b,
  };
}

/** Each phase's peak memory at one configuration: ours (tensor buffers) and the peer's (CUDA allocated). */
async function memory(config: string, batch: number, peer: string[], limitS: number): Promise<StepResult> {
  const r = await runNode(
    ['dist/scripts/dev/bench.js', '--config', config, '--batch', String(batch), '--backend', 'webgpu', '--memory', '--json', ...peer],
    limitS,
  );
  if (r.code !== 0) return { ok: false, seconds: r.seconds, config, batch, error: failure(r, limitS) };
  const m = JSON.parse(r.out);
  const most = (phasesMB: Record<string, number>) => Math.max(...Object.values(phasesMB));
  return {
    ok: true,
    seconds: r.seconds,
    config,
    batch,
    phasesMB: m.ours.phasesMB,
    peerPhasesMB: m.peer?.phasesMB ?? null,
    // The phase that needs most decides whether a batch fits.
    oursOverPeer: m.peer ? most(m.ours.phasesMB) / most(m.peer.phasesMB) : null,
    result: m,
  };
}

/** A short fine-tune of the bundled network on samples/: its speed and the files it wrote. */
async function finetune(work: string, quick: boolean, limitS: number): Promise<StepResult> {
  const rd = path.join(work, 'finetune');
  // Quick (SwiftShader): one iteration at batch 4. A second training step of the bundled network on
  // SwiftShader stalled on a 2-core AVX2 machine (SwiftShader's workers busy, no progress in
  // minutes; tiny networks run on): the webgpu tests train those for many iterations instead.
  const kimg = quick ? '0.004' : '0.256';
  const r = await runNode(
    [
      'dist/src/cli/main.js',
      'finetune',
      '--network',
      'pretrained/emoji32.safetensors',
      '--data',
      'samples',
      '--run-dir',
      rd,
      '--backend',
      'webgpu',
      '--kimg',
      kimg,
      '--tick',
      quick ? '0.004' : '0.064',
      '--snap',
      '100',
      '--batch',
      quick ? '4' : '16',
      ...(quick ? ['--grid', '4x2'] : []), // SwiftShader draws a grid image in seconds
    ],
    limitS,
  );
  const files = existsSync(rd) ? await fs.readdir(rd) : [];
  const statsFile = path.join(rd, RUN_FILES.stats);
  const stats = existsSync(statsFile)
    ? (await fs.readFile(statsFile, 'utf8'))
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
    : [];
  const secPerKimg = stats.map((s) => s.sec_per_kimg).filter((v) => typeof v === 'number');
  const grid = files.filter((f) => fakesKimg(f) !== null);
  const snapshot = files.some((f) => snapshotKimg(f) !== null);
  const ok = r.code === 0 && grid.length > 0 && snapshot;
  return {
    ok,
    seconds: r.seconds,
    kimg: Number(kimg),
    grids: grid,
    snapshot,
    secPerKimg: secPerKimg.at(-1) ?? null,
    ...(ok ? {} : { error: r.code === 0 ? `no grid or snapshot in ${files.join(', ')}` : failure(r, limitS) }),
  };
}

async function main() {
  const t0 = performance.now();
  const out = path.resolve(arg('out', 'gpu-check.json'));
  const budget = Number(arg('budget', '450'));
  if (!(budget > 0)) throw new Error(`--budget takes seconds > 0 (got '${arg('budget')}')`);
  const left = () => budget - (performance.now() - t0) / 1000;
  if (existsSync(out)) throw new Error(`${out} exists; name another --out or move it away`);
  const upstream = arg('upstream');
  if (upstream && !existsSync(path.join(upstream, 'training', 'networks.py')))
    throw new Error(`--upstream ${upstream}: not a stylegan2-ada-pytorch checkout (no training/networks.py)`);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), 'rlo-gpu-check-'));
  const result: Record<string, unknown> = {
    when: new Date().toISOString(),
    machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), memoryGB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    nvidiaSmi: await nvidiaSmi(),
  };
  const save = () => writeFileAtomic(out, `${JSON.stringify({ ...result, seconds: (performance.now() - t0) / 1000 }, null, 2)}\n`, { overwrite: true });
  const say = (l: string) => process.stderr.write(`gpu-check: ${l}\n`);

  const a = await adapter(Math.min(120, left()));
  result.adapter = a;
  await save();
  if (!a.ok) {
    say(`webgpu did not start: ${a.error}`);
    process.exitCode = 1;
    return;
  }
  const quick = flag('quick') || a.software === true;
  result.quick = quick;
  say(`adapter: ${a.description}${quick ? ' (tiny shapes)' : ''}`);

  say('parity suites on webgpu');
  result.parity = await parity(Math.min(quick ? 900 : 150, left() - 60));
  await save();

  const peer = upstream ? ['--peer', path.resolve(upstream), '--peer-device', quick ? 'cpu' : 'cuda', '--python', arg('python', 'python3')] : [];
  result.peer = upstream ? null : 'no --upstream checkout given: ours only';
  const configs: [string, number][] = quick
    ? [['tiny16', 4]]
    : [
        ['bench64', 16],
        ['bench64', 32],
        ['paper256', 16],
        ['paper256', 32],
      ];
  const benches: StepResult[] = [];
  for (const [config, batch] of configs) {
    // Keep a minute for the fine-tune and two for the memory step; share the rest among the
    // configurations still to run.
    const limit = (left() - 180) / (configs.length - benches.length);
    say(`bench ${config} batch ${batch}`);
    benches.push(
      limit < 20
        ? { ok: false, seconds: 0, config, batch, error: 'skipped: out of time' }
        : await bench(config, batch, peer, limit, quick ? ['--rounds', '1', '--iters', '1'] : ['--rounds', '3', '--iters', '2']),
    );
    result.bench = benches;
    await save();
  }

  const [memConfig, memBatch] = quick ? ['tiny16', 4] : ['paper256', 16];
  say(`memory ${memConfig} batch ${memBatch}`);
  result.memory = left() < 80 ? { ok: false, seconds: 0, error: 'skipped: out of time' } : await memory(memConfig, memBatch, peer, Math.min(120, left() - 60));
  await save();

  say('fine-tune');
  result.finetune = left() < 20 ? { ok: false, seconds: 0, error: 'skipped: out of time' } : await finetune(work, quick, left());
  await fs.rm(work, { recursive: true, force: true });
  const steps = [result.parity, ...benches, result.memory, result.finetune] as StepResult[];
  result.ok = steps.every((s) => s.ok);
  await save();
  say(
    `${
      result.ok
        ? 'all steps passed'
        : `failed: ${steps
            .filter((s) => !s.ok)
            .map((s) => s.error)
            .join('; ')}`
    }; wrote ${out}`,
  );
  if (!result.ok) process.exitCode = 1;
}

/** The GPU as nvidia-smi names it, or null where there is none. */
async function nvidiaSmi(): Promise<string | null> {
  return new Promise((resolve) => {
    const c = spawn('nvidia-smi', ['--query-gpu=name,driver_version,memory.total', '--format=csv,noheader'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let s = '';
    c.stdout.on('data', (d) => {
      s += d;
    });
    c.on('error', () => resolve(null));
    c.on('close', (code) => resolve(code === 0 ? s.trim() : null));
  });
}

main().catch((e) => {
  process.stderr.write(`gpu-check: ${(e as Error).message}\n`);
  process.exit(1);
});
