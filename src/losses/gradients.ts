// Gradients of a scalar loss w.r.t. a network's trainable parameters, keyed by upstream name.
import * as tf from '@tensorflow/tfjs';
import type { NamedArray, ParamStore } from '../networks/params.js';
import { variableGrads } from '../ops/gradients.js';

export interface ParamGradients {
  value: tf.Scalar; // The loss.
  grads: Map<string, tf.Tensor>; // Upstream name -> gradient in the internal layout.
}

/**
 * Evaluates `loss` and its gradient w.r.t. every trainable variable of `store`. Variables of other
 * networks that `loss` touches are held constant. The caller owns (and disposes) the result. The
 * backward pass releases each tensor once used (ops/gradients.ts), unlike tf.variableGrads.
 */
export function paramGradients(store: ParamStore, loss: () => tf.Scalar): ParamGradients {
  const vars = store.trainableVariables();
  const { value, grads } = tf.tidy(() => variableGrads(loss, vars));
  const out = new Map<string, tf.Tensor>();
  for (const v of vars) {
    // A parameter the loss does not depend on gets a zero gradient (upstream leaves it None).
    out.set(store.nameOf(v), grads[v.name] ?? tf.zerosLike(v));
  }
  return { value, grads: out };
}

/** Gradients converted to upstream names and layouts (for comparison with PyTorch). */
export async function gradientsToUpstream(store: ParamStore, grads: Map<string, tf.Tensor>): Promise<Map<string, NamedArray>> {
  const out = new Map<string, NamedArray>();
  for (const [k, g] of grads) out.set(k, await store.toUpstreamArray(k, g));
  return out;
}

export function disposeGradients(g: ParamGradients): void {
  g.value.dispose();
  for (const t of g.grads.values()) t.dispose();
}
