// Widening a trained network: more channels per layer, the same function.
//
// A network whose samples stopped improving may lack capacity; training a wider one from scratch
// throws the training away. Widening keeps it: every existing weight stays where it was, the new
// channels are added so that the network computes exactly what it computed before (up to float
// rounding, and ~1e-4 in D's minibatch-std feature, see below), and training then grows them.
//
// Upstream's layers scale their weights by 1/sqrt(fan-in) at run time (equalized learning rate), so
// a layer whose input gains channels gets a smaller gain: its existing weights are multiplied by
// sqrt(new fan-in / old fan-in) to keep the effective weights, and their Adam moments are divided
// by the same factor (m) and its square (v), which is what the gradients of the rescaled weights
// are. Modulated convolutions with weight demodulation (G's conv0/conv1) are scale-invariant and
// keep their values. New entries of every Adam moment start at zero.
//
// The new channels must contribute nothing and still be able to learn:
//   G: a new channel's incoming weights are freshly initialized and its outgoing weights are zero.
//      (It cannot be silent instead: noise inputs are added to every channel.)
//   D: a new channel's incoming weights and bias are zero, so it outputs exactly 0, and its outgoing
//      weights are freshly initialized. (It cannot be active instead: the minibatch-std feature
//      averages the standard deviation over every channel.) Its gradient is not zero: the leaky
//      ReLU passes 0.2 of it at 0. The silent channels add sqrt(1e-8) = 1e-4 each to that average;
//      the minibatch-std input of the epilogue conv is scaled by new/old channels to keep the
//      feature's scale, leaving a difference of 1e-4 x (added/old channels) in the feature.
import type { DiscriminatorConfig, GeneratorConfig, ResolvedDiscriminatorConfig } from './config.js';
import { channelsAt, resolveDiscriminatorConfig, resolveGeneratorConfig } from './config.js';
import type { NamedArray } from './params.js';
import { OptionError } from '../files/option_error.js';

export interface WidenTarget {
  channelBase: number;
  channelMax: number;
}

/** The widened kwargs, or an error naming why these channel numbers cannot widen these networks. */
export function widenedKwargs(
  G: GeneratorConfig,
  D: DiscriminatorConfig | null,
  t: WidenTarget,
): { G_kwargs: GeneratorConfig; D_kwargs: DiscriminatorConfig | null } {
  const g = resolveGeneratorConfig(G);
  const s = g.synthesis_kwargs;
  const G_kwargs: GeneratorConfig = { ...G, synthesis_kwargs: { ...(G.synthesis_kwargs ?? {}), channel_base: t.channelBase, channel_max: t.channelMax } };
  resolveGeneratorConfig(G_kwargs); // the new numbers within the limits every network file is held to
  let grows = false;
  // Every resolution keeps or gains channels, and at least one gains.
  const check = (who: string, base: number, max: number, resolution: number) => {
    for (let res = 4; res <= resolution; res *= 2) {
      const was = channelsAt(base, max, res);
      const now = channelsAt(t.channelBase, t.channelMax, res);
      if (now < was)
        throw new OptionError(
          (o) =>
            `${o('cfg.cbase')} ${t.channelBase} ${o('cfg.cmax')} ${t.channelMax} would give ${now} channels at ${res}x${res}, fewer than ${who}'s ${was}; widening only adds channels`,
        );
      if (now > was) grows = true;
    }
  };
  check('the network', s.channel_base, s.channel_max, g.img_resolution);
  let D_kwargs: DiscriminatorConfig | null = null;
  if (D) {
    const d = resolveDiscriminatorConfig(D);
    checkDiscriminator(d);
    check('the discriminator', d.channel_base, d.channel_max, d.img_resolution);
    // A conditional D maps labels to as many features as it has channels at 4x4 unless told: keep that size.
    const cmap_dim = d.c_dim > 0 ? (d.cmap_dim ?? channelsAt(d.channel_base, d.channel_max, 4)) : D.cmap_dim;
    D_kwargs = { ...D, channel_base: t.channelBase, channel_max: t.channelMax, ...(cmap_dim !== undefined ? { cmap_dim } : {}) };
    resolveDiscriminatorConfig(D_kwargs);
  }
  if (!grows)
    throw new OptionError(
      (o) => `${o('cfg.cbase')} ${t.channelBase} ${o('cfg.cmax')} ${t.channelMax} give the network the channels it already has; nothing to widen`,
    );
  return { G_kwargs, D_kwargs };
}

function checkDiscriminator(d: ResolvedDiscriminatorConfig): void {
  if (d.block_kwargs.freeze_layers > 0)
    throw new Error(
      `the discriminator has ${d.block_kwargs.freeze_layers} frozen (Freeze-D) layers, whose new channels could never learn; widen a network without them`,
    );
  if (d.epilogue_kwargs.mbstd_num_channels > 1)
    throw new Error(
      `the discriminator's minibatch-std has ${d.epilogue_kwargs.mbstd_num_channels} channel groups, which widening would regroup; only networks with 0 or 1 can be widened`,
    );
}

type Scheme = 'G' | 'D';

/** How one tensor is carried into its wider shape. */
interface Plan {
  scheme: Scheme;
  /** Fan-in gain compensation for the existing entries (1 for demodulated weights and unchanged fan-in). */
  gain: number;
  /** Old index -> new index along axis 1 (identity unless given). */
  inMap?: (i: number) => number;
  /** Extra factor for existing entries at these old input indices (D's minibatch-std input). */
  inScale?: Map<number, number>;
}

const DEMODULATED = /^synthesis\.b\d+\.conv[01]\.weight$/;

function prod(a: number[]): number {
  return a.reduce((x, y) => x * y, 1);
}

function planFor(scheme: Scheme, name: string, oldShape: number[], newShape: number[], mbstd: { channels: number; was: number; now: number }): Plan {
  const rank = oldShape.length;
  const fanInChanged = rank >= 2 && prod(newShape.slice(1)) !== prod(oldShape.slice(1));
  const gain = fanInChanged && !(scheme === 'G' && DEMODULATED.test(name)) ? Math.sqrt(prod(newShape.slice(1)) / prod(oldShape.slice(1))) : 1;
  if (scheme === 'D' && name === 'b4.conv.weight' && mbstd.channels > 0 && mbstd.was !== mbstd.now) {
    // Input channels: the features, then the minibatch-std channel(s), which move to the end.
    return {
      scheme,
      gain,
      inMap: (i) => (i < mbstd.was ? i : i - mbstd.was + mbstd.now),
      inScale: new Map(Array.from({ length: mbstd.channels }, (_, j) => [mbstd.was + j, mbstd.now / mbstd.was])),
    };
  }
  return { scheme, gain };
}

/** Strides of a row-major shape. */
function strides(shape: number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1] * shape[i + 1];
  return s;
}

interface Carried {
  value: NamedArray;
  /** Per new entry: the factor its old value was multiplied by (0 = a new entry). */
  factor: Float32Array;
}

/**
 * One tensor in its wider shape: existing entries (times their gain factor) at their old
 * indices, new entries from `fresh` or zero as the scheme says.
 */
function carry(name: string, old: NamedArray, fresh: NamedArray, plan: Plan): Carried {
  const os = old.shape,
    ns = fresh.shape;
  if (os.length !== ns.length || os.some((d, i) => d > ns[i] && !(i === 1 && plan.inMap)))
    throw new Error(`widen: ${name} has shape [${os}], which does not fit in [${ns}]`);
  const n = prod(ns);
  const out = new Float32Array(n);
  const factor = new Float32Array(n);
  // Which new entries are new along the output axis (0) and the input axis (1)?
  const isNewOut = (o: number) => o >= os[0];
  const oldIn = new Int32Array(ns.length >= 2 ? ns[1] : 0).fill(-1); // new input index -> old, or -1
  if (ns.length >= 2) for (let i = 0; i < os[1]; i++) oldIn[plan.inMap ? plan.inMap(i) : i] = i;
  const nst = strides(ns),
    ost = strides(os);
  const idx = new Array<number>(ns.length).fill(0);
  for (let e = 0; e < n; e++) {
    let r = e;
    for (let a = 0; a < ns.length; a++) {
      idx[a] = Math.floor(r / nst[a]);
      r -= idx[a] * nst[a];
    }
    const newOut = ns.length >= 1 && isNewOut(idx[0]);
    const oi = ns.length >= 2 ? oldIn[idx[1]] : 0;
    const newIn = ns.length >= 2 && oi < 0;
    // Any further axis (kernel, spatial) that grew holds only new entries: none do in practice.
    let beyond = false;
    for (let a = 2; a < ns.length; a++) if (idx[a] >= os[a]) beyond = true;
    if (!newOut && !newIn && !beyond) {
      let src = 0;
      for (let a = 0; a < ns.length; a++) src += (a === 1 ? oi : idx[a]) * ost[a];
      const f = plan.gain * (plan.inScale?.get(oi) ?? 1);
      out[e] = old.data[src] * f;
      factor[e] = f;
    } else if (ns.length >= 2) {
      // G: silent outgoing (new input) weights; D: silent incoming (new output) weights.
      const zero = plan.scheme === 'G' ? newIn : newOut;
      out[e] = zero ? 0 : fresh.data[e];
    } else {
      // Biases and the like of new channels: G starts them as upstream does, D at zero (a silent channel).
      out[e] = plan.scheme === 'G' ? fresh.data[e] : 0;
    }
  }
  return { value: { shape: ns.slice(), data: out }, factor };
}

/** An Adam moment carried like its parameter: existing entries divided by factor^power, new ones 0. */
function carryMoment(name: string, old: NamedArray, plan: Plan, newShape: number[], power: 1 | 2): NamedArray {
  const zeros: NamedArray = { shape: newShape, data: new Float32Array(prod(newShape)) };
  const { value, factor } = carry(name, old, zeros, plan);
  for (let e = 0; e < value.data.length; e++) {
    // carry() multiplied the old value by the factor once; the moment wants it divided by factor^power.
    value.data[e] = factor[e] === 0 ? 0 : value.data[e] / factor[e] ** (power + 1);
  }
  return value;
}

export interface WidenInput {
  G_kwargs: GeneratorConfig;
  D_kwargs: DiscriminatorConfig | null;
  G: Map<string, NamedArray> | null;
  D: Map<string, NamedArray> | null;
  G_ema: Map<string, NamedArray> | null;
  /** Adam state as checkpoints hold it: opt_G/m/<name>, opt_G/v/<name>, opt_G/t (and opt_D). */
  optimizer: Map<string, NamedArray>;
}

/**
 * Carries every tensor of a network (G, D, G_ema and their Adam state) into the widened shapes.
 * `freshG` / `freshD` are freshly initialized state dicts of the widened networks (they give the
 * new channels' starting values; G and G_ema share them).
 */
export function widenTensors(
  input: WidenInput,
  widened: { G_kwargs: GeneratorConfig; D_kwargs: DiscriminatorConfig | null },
  freshG: Map<string, NamedArray>,
  freshD: Map<string, NamedArray> | null,
): { G: Map<string, NamedArray> | null; D: Map<string, NamedArray> | null; G_ema: Map<string, NamedArray> | null; optimizer: Map<string, NamedArray> } {
  const mbstd = { channels: 0, was: 0, now: 0 };
  if (input.D_kwargs && widened.D_kwargs) {
    const d0 = resolveDiscriminatorConfig(input.D_kwargs),
      d1 = resolveDiscriminatorConfig(widened.D_kwargs);
    mbstd.channels = d0.epilogue_kwargs.mbstd_num_channels;
    mbstd.was = channelsAt(d0.channel_base, d0.channel_max, 4);
    mbstd.now = channelsAt(d1.channel_base, d1.channel_max, 4);
  }
  const plans = new Map<string, Plan>();
  const net = (scheme: Scheme, sd: Map<string, NamedArray> | null, fresh: Map<string, NamedArray> | null, what: string) => {
    if (!sd) return null;
    if (!fresh) throw new Error(`widen: no ${what} configuration to widen`);
    const out = new Map<string, NamedArray>();
    for (const [k, f] of fresh) {
      const o = sd.get(k);
      if (!o) throw new Error(`widen: ${what} lacks ${k}`);
      const plan = planFor(scheme, k, o.shape, f.shape, mbstd);
      plans.set(`${scheme}/${k}`, plan);
      out.set(k, carry(`${what}.${k}`, o, f, plan).value);
    }
    return out;
  };
  const G = net('G', input.G, freshG, 'G');
  const G_ema = net('G', input.G_ema, freshG, 'G_ema');
  const D = net('D', input.D, freshD, 'D');
  const optimizer = new Map<string, NamedArray>();
  for (const [k, v] of input.optimizer) {
    const m = /^opt_(G|D)\/(m|v)\/(.+)$/.exec(k);
    if (!m) {
      optimizer.set(k, v); // the step counter
      continue;
    }
    const [, scheme, moment, name] = m;
    const fresh = (scheme === 'G' ? freshG : freshD)?.get(name);
    const plan = plans.get(`${scheme}/${name}`) ?? (fresh ? planFor(scheme as Scheme, name, v.shape, fresh.shape, mbstd) : undefined);
    if (!fresh || !plan) throw new Error(`widen: optimizer state ${k} names no parameter of the widened network`);
    optimizer.set(k, carryMoment(k, v, plan, fresh.shape, moment === 'm' ? 1 : 2));
  }
  return { G, D, G_ema, optimizer };
}
