// One training iteration as upstream's training_loop.py runs it: phases Gmain, Greg (every
// G_reg_interval), Dmain, Dreg (every D_reg_interval) with lazy regularization (lr and betas
// adjusted, the regularizer's gradient scaled by its interval), gradient accumulation over
// batch_gpu rounds (summed, as upstream), Adam, G_ema with ramp-up, and the ADA heuristic.
// Non-finite losses or gradients skip that phase's update on the device and are counted.
import type { PhaseName, TrainerState } from '../records.js';
import * as tf from '@tensorflow/tfjs';
import type { Discriminator } from '../networks/discriminator.js';
import type { Generator } from '../networks/generator.js';
import type { Objective } from '../losses/objectives.js';
import { paramGradients } from '../losses/gradients.js';
import { dLogits, dMainLoss, gMainLoss, type LogitsFn, plRegLoss, r1RegLoss, synthesizer } from '../losses/phases.js';
import type { ParamStore } from '../networks/params.js';
import type { Rng } from '../rng.js';
import { sumAll } from '../ops/misc.js';
import { Adam } from './adam.js';
import { Stats } from './stats.js';

export interface TrainerOptions {
  objective: Objective; // Adversarial loss: logistic or rooted.
  batch: number; // Images per iteration.
  batchGpu: number; // Images per accumulation round (batch must be a multiple).
  glr: number; // G learning rate (before the lazy-regularization adjustment).
  dlr: number; // D learning rate.
  beta1: number; // Adam beta1 (upstream 0).
  beta2: number; // Adam beta2 (upstream 0.99).
  eps: number; // Adam epsilon (upstream 1e-8).
  r1Gamma: number; // R1 weight; 0 disables Dreg.
  plWeight: number; // Path-length weight; 0 disables Greg.
  plBatchShrink: number; // Greg runs on batch / shrink samples.
  plDecay: number; // pl_mean decay.
  styleMixingProb: number; // Probability of mixing two latents.
  gRegInterval: number; // Lazy regularization interval for G (upstream 4).
  dRegInterval: number; // Lazy regularization interval for D (upstream 16).
  emaKimg: number; // Half-life of G_ema in thousands of images.
  emaRampup: number | null; // EMA ramp-up: half-life at most cur_nimg * rampup.
  adaTarget: number | null; // ADA target for E[sign(D(reals))], null = no adaptation.
  adaInterval: number; // Iterations between ADA adjustments (upstream 4).
  adaKimg: number; // ADA speed: p can go 0 -> 1 in this many kimg (upstream 500).
}

export interface Batch {
  img: tf.Tensor4D; // Reals, NHWC in [-1, 1].
  c: tf.Tensor | null; // Their labels [N, c_dim], or null.
}

/** Differentiable augmentation with a probability `p` (ADA); identity when absent. */
export interface Augment {
  apply(img: tf.Tensor4D, rng: Rng): tf.Tensor4D;
  p: number;
}

export class Trainer {
  readonly optG: Adam;
  readonly optD: Adam;
  readonly stats = new Stats();
  readonly plMean: tf.Variable;
  curNimg = 0;
  batchIdx = 0;
  private skippedT: Record<PhaseName, tf.Variable>;
  /** When set, each phase ends with a device sync and its wall time is added here (benchmarks). */
  phaseTimes: Record<string, number[]> | null = null;
  private adaSigns = { sum: null as tf.Tensor | null, n: 0 };

  constructor(
    readonly G: Generator,
    readonly D: Discriminator,
    readonly Gema: Generator,
    readonly opts: TrainerOptions,
    readonly rng: Rng,
    readonly augment: Augment | null = null,
  ) {
    if (opts.batch % opts.batchGpu !== 0) throw new Error(`batch ${opts.batch} must be a multiple of batch-gpu ${opts.batchGpu}`);
    // Lazy regularization (upstream training_loop.py): lr *= r/(r+1), betas **= r/(r+1).
    const lazy = (lr: number, interval: number) => {
      const r = interval > 0 ? interval / (interval + 1) : 1;
      return { lr: lr * r, beta1: opts.beta1 ** r, beta2: opts.beta2 ** r, eps: opts.eps };
    };
    // As upstream, by the interval alone: a zero regularization weight still leaves lr and betas adjusted.
    this.optG = new Adam(trainableMap(G.params), lazy(opts.glr, opts.gRegInterval));
    this.optD = new Adam(trainableMap(D.params), lazy(opts.dlr, opts.dRegInterval));
    this.plMean = zeroVar();
    this.skippedT = { Gmain: zeroVar(), Greg: zeroVar(), Dmain: zeroVar(), Dreg: zeroVar() };
  }

  /**
   * Upstream's phases: a regularization phase exists whenever its interval does (with a zero
   * weight it computes nothing, and Adam skips parameters without gradients).
   */
  get phases(): { name: PhaseName; interval: number; active: boolean }[] {
    const settings = this.opts;
    return [
      { name: 'Gmain', interval: 1, active: true },
      ...(settings.gRegInterval > 0 ? [{ name: 'Greg' as PhaseName, interval: settings.gRegInterval, active: settings.plWeight !== 0 }] : []),
      { name: 'Dmain', interval: 1, active: true },
      ...(settings.dRegInterval > 0 ? [{ name: 'Dreg' as PhaseName, interval: settings.dRegInterval, active: settings.r1Gamma !== 0 }] : []),
    ];
  }

  /**
   * One iteration on `reals` (batch images). `genC`: the labels of the fakes, batch rows for each
   * of `phases` in order ([phases.length * batch, c_dim], drawn at once as upstream does), or null
   * for an unconditional G. Returns the phases that ran.
   */
  async step(reals: Batch, genC: tf.Tensor | null): Promise<PhaseName[]> {
    const settings = this.opts;
    const { G } = this;
    const ran: PhaseName[] = [];
    const rounds = settings.batch / settings.batchGpu;
    const chunk = (t: tf.Tensor | null, i: number, n = settings.batchGpu) => (t === null ? null : t.slice(i * settings.batchGpu, n));
    const phases = this.phases;
    if (genC !== null && genC.shape[0] !== phases.length * settings.batch) {
      throw new Error(`trainer: the fakes' labels need ${phases.length} phases x batch ${settings.batch} rows, got ${genC.shape[0]}`);
    }
    // Upstream draws z for every phase at once each iteration, whether a phase runs or not.
    const allZ = this.rng.normal([phases.length * settings.batch, G.zDim]);
    for (const [phaseIdx, phase] of phases.entries()) {
      if (this.batchIdx % phase.interval !== 0 || !phase.active) continue;
      const genZ = allZ.slice(phaseIdx * settings.batch, settings.batch);
      const phaseC = genC === null ? null : genC.slice(phaseIdx * settings.batch, settings.batch);
      ran.push(phase.name);
      const t0 = performance.now();
      const isG = phase.name[0] === 'G';
      const store = isG ? G.params : this.D.params;
      const gain = phase.interval; // the regularizer's gradient is scaled by its interval
      let acc: Map<string, tf.Tensor> | null = null;
      let okAll: tf.Tensor = tf.scalar(true, 'bool');
      for (let r = 0; r < rounds; r++) {
        const z = chunk(genZ, r)!;
        const c = chunk(phaseC, r);
        const realImg = chunk(reals.img, r) as tf.Tensor4D;
        const realC = chunk(reals.c, r);
        // Dmain's fakes come from G outside the gradient tape: G is not trained in that phase, and
        // recording its forward pass would only cost time and memory.
        const fakes = phase.name === 'Dmain' ? tf.tidy(() => this.runG(z, c).img) : null;
        const { value, grads: named } = paramGradients(store, () => this.phaseLoss(phase.name, z, c, realImg, realC, fakes).mul(gain) as tf.Scalar);
        tf.dispose([z, c, realImg, realC, fakes].filter((t): t is tf.Tensor => t !== null));
        const ok = tf.tidy(() => tf.logicalAnd(okAll, tf.logicalAnd(finite(value), allFinite([...named.values()]))));
        okAll.dispose();
        okAll = ok;
        value.dispose();
        if (acc === null) acc = named;
        else {
          for (const [k, g] of named) {
            const s = acc.get(k)!.add(g);
            acc.get(k)!.dispose();
            g.dispose();
            acc.set(k, s);
          }
        }
      }
      (isG ? this.optG : this.optD).update(acc!, okAll);
      const skipped = this.skippedT[phase.name];
      tf.tidy(() => skipped.assign(skipped.add(tf.logicalNot(okAll).cast('float32'))));
      tf.dispose([...acc!.values(), okAll, genZ, ...(phaseC ? [phaseC] : [])]);
      if (this.phaseTimes) {
        await skipped.data(); // sync point, benchmarks only
        this.phaseTimes[phase.name] ??= [];
        this.phaseTimes[phase.name].push(performance.now() - t0);
      }
    }

    allZ.dispose();

    // G_ema: p_ema = lerp(p, p_ema, beta), buffers copied; the ramp-up uses the image count before
    // this iteration (upstream updates cur_nimg after G_ema).
    let emaNimg = settings.emaKimg * 1000;
    if (settings.emaRampup !== null) emaNimg = Math.min(emaNimg, this.curNimg * settings.emaRampup);
    const beta = 0.5 ** (settings.batch / Math.max(emaNimg, 1e-8));
    updateEma(this.Gema.params, G.params, beta);
    this.curNimg += settings.batch;
    this.batchIdx += 1;

    // ADA heuristic: every adaInterval iterations, p += sign(E[sign(D(reals))] - target) * speed.
    if (this.augment && settings.adaTarget !== null && this.batchIdx % settings.adaInterval === 0 && this.adaSigns.sum) {
      const mean = (await this.adaSigns.sum.data())[0] / this.adaSigns.n; // one read per adaInterval iterations
      const adjust = (Math.sign(mean - settings.adaTarget) * (settings.batch * settings.adaInterval)) / (settings.adaKimg * 1000);
      this.augment.p = Math.max(this.augment.p + adjust, 0);
      this.adaSigns.sum.dispose();
      this.adaSigns = { sum: null, n: 0 };
    }
    return ran;
  }

  /** Upstream run_G: mapping with style mixing (training mode: w_avg tracked), random noise. */
  private runG(z: tf.Tensor, c: tf.Tensor | null): { ws: tf.Tensor3D; img: tf.Tensor4D } {
    return tf.tidy(() => {
      const ws = this.G.mapWithMixing(z, c, this.rng, this.opts.styleMixingProb);
      return { ws, img: this.G.synthesize(ws, { noise_mode: 'random', rng: this.rng }) };
    });
  }

  /**
   * The loss of one phase on one round (a scalar, before the gain), from the functions in
   * losses/phases.ts; here only the draws (latents, mixing, noise, augmentation) in upstream's
   * order, and the statistics.
   */
  private phaseLoss(
    phase: PhaseName,
    genZ: tf.Tensor,
    genC: tf.Tensor | null,
    realImg: tf.Tensor4D,
    realC: tf.Tensor | null,
    fakes: tf.Tensor4D | null,
  ): tf.Scalar {
    const settings = this.opts;
    const { G, D } = this;
    const runD: LogitsFn = dLogits(D, this.augment ? (img) => this.augment!.apply(img, this.rng) : undefined);

    if (phase === 'Gmain') {
      const ws = G.mapWithMixing(genZ, genC, this.rng, settings.styleMixingProb);
      const r = gMainLoss(synthesizer(G, { noise_mode: 'random', rng: this.rng }), runD, ws, genC, settings.objective);
      this.stats.report('Loss/scores/fake', r.fakeLogits);
      this.stats.report('Loss/signs/fake', r.fakeLogits.sign());
      this.stats.report('Loss/G/loss', r.perSample);
      return r.loss;
    }
    if (phase === 'Greg') {
      const n = Math.max(Math.floor(genZ.shape[0] / settings.plBatchShrink), 1);
      const z = genZ.slice(0, n);
      const c = genC === null ? null : genC.slice(0, n);
      const ws = G.mapWithMixing(z, c, this.rng, settings.styleMixingProb);
      const [h, w] = [G.imgResolution, G.imgResolution];
      // Upstream's order: the synthesis draws its noise, then the path-length noise is drawn.
      const plNoise = (img: tf.Tensor4D) => this.rng.normal(img.shape).div(Math.sqrt(h * w)) as tf.Tensor4D;
      const r = plRegLoss(
        (wsi) => G.synthesize(wsi, { noise_mode: 'random', rng: this.rng }),
        ws,
        plNoise,
        this.plMean as tf.Scalar,
        settings.plDecay,
        settings.plWeight,
      );
      this.plMean.assign(r.plMean);
      this.stats.report('Loss/pl_penalty', r.penalty);
      this.stats.report('Loss/G/reg', r.perSample);
      return r.loss;
    }
    if (phase === 'Dmain') {
      const r = dMainLoss(runD, fakes!, genC, realImg, realC, settings.objective);
      this.stats.report('Loss/scores/fake', r.fakeLogits);
      this.stats.report('Loss/signs/fake', r.fakeLogits.sign());
      this.reportReal(r.realLogits);
      this.stats.report('Loss/D/loss', r.perSample);
      return r.loss;
    }
    const r = r1RegLoss(runD, realImg, realC, settings.r1Gamma);
    this.reportReal(r.realLogits);
    r.realLogits.dispose();
    this.stats.report('Loss/r1_penalty', r.penalty);
    this.stats.report('Loss/D/reg', r.perSample);
    return r.loss;
  }

  private reportReal(realLogits: tf.Tensor): void {
    const signs = tf.tidy(() => realLogits.sign());
    this.stats.report('Loss/scores/real', realLogits);
    this.stats.report('Loss/signs/real', signs);
    if (this.augment && this.opts.adaTarget !== null) {
      const s = tf.tidy(() => signs.sum());
      const prev = this.adaSigns.sum;
      this.adaSigns = { sum: prev ? tf.keep(prev.add(s)) : tf.keep(s), n: this.adaSigns.n + signs.size };
      if (prev) prev.dispose();
    }
    signs.dispose();
  }

  /** The ADA sign accumulator (for exact resume mid-interval). */
  async adaSignsState(): Promise<{ sum: number; n: number }> {
    return { sum: this.adaSigns.sum ? (await this.adaSigns.sum.data())[0] : 0, n: this.adaSigns.n };
  }

  restoreAdaSigns(s: { sum: number; n: number }): void {
    this.adaSigns.sum?.dispose();
    this.adaSigns = { sum: s.n > 0 ? tf.keep(tf.scalar(s.sum)) : null, n: s.n };
  }

  /** Host-side state (pl_mean, skipped counts) for checkpoints and stats: one read. */
  async state(): Promise<TrainerState> {
    const names: PhaseName[] = ['Gmain', 'Greg', 'Dmain', 'Dreg'];
    const stacked = tf.stack([this.plMean, ...names.map((n) => this.skippedT[n])]);
    const vals = await stacked.data();
    stacked.dispose();
    const skipped = Object.fromEntries(names.map((n, i) => [n, vals[i + 1]])) as Record<PhaseName, number>;
    return { curNimg: this.curNimg, batchIdx: this.batchIdx, plMean: vals[0], skipped };
  }

  /** Restores host-side state written by state(). */
  restore(s: TrainerState): void {
    this.curNimg = s.curNimg;
    this.batchIdx = s.batchIdx;
    tf.tidy(() => {
      this.plMean.assign(tf.scalar(s.plMean));
      for (const [k, v] of Object.entries(s.skipped)) this.skippedT[k as PhaseName].assign(tf.scalar(v));
    });
  }

  dispose(): void {
    this.optG.dispose();
    this.optD.dispose();
    this.plMean.dispose();
    for (const v of Object.values(this.skippedT)) v.dispose();
    this.adaSigns.sum?.dispose();
    this.stats.reset();
  }
}

function zeroVar(): tf.Variable {
  return tf.tidy(() => tf.variable(tf.scalar(0), false));
}

function trainableMap(store: ParamStore): Map<string, tf.Variable> {
  return new Map(store.trainableVariables().map((v) => [store.nameOf(v), v]));
}

function finite(t: tf.Tensor): tf.Tensor {
  return tf.tidy(() => tf.logicalNot(tf.logicalOr(t.isNaN(), t.isInf())).all());
}

function allFinite(ts: tf.Tensor[]): tf.Tensor {
  // sum(g * 0) is NaN exactly when g holds a NaN or an infinity: one reduction per tensor.
  return tf.tidy(() => finite(sumAll(ts.map((g) => g.mul(0).sum()))));
}

/** p_ema = p + (p_ema - p) * beta for trainable tensors; buffers are copied. */
export function updateEma(ema: ParamStore, src: ParamStore, beta: number): void {
  tf.tidy(() => {
    for (const [name, spec] of src.specs) {
      const p = src.get(name),
        pe = ema.get(name);
      if (spec.buffer) pe.assign(p);
      else pe.assign(p.add(pe.sub(p).mul(beta)));
    }
  });
}
