// Reverse-mode gradients that free memory as the backward pass goes, as PyTorch's autograd does.
// tfjs' own (engine.gradients) keeps every tensor of the backward pass until it ends: each node's
// output gradient after the node has used it, each partial gradient after it was added up, and each
// tensor the forward pass saved for the backward one. So its peak is the forward pass's saved
// tensors plus every gradient of the graph at once (at 256 px, 1.8-3.1x PyTorch's peak per phase;
// docs/benchmarks.md, Memory). Here a gradient is released as soon as its node has used it, and in a
// first-order pass (the outermost gradient; an inner one, as R1's and path length's, must keep its
// tape for the outer pass) a node's saved tensors as soon as its gradient is computed. The tape is
// tfjs' own (what the engine recorded while `f` ran): the same nodes and gradient functions, in
// the same order, so the values are tfjs' to the bit.
import * as tf from '@tensorflow/tfjs';

/** What the engine records per kernel while a gradient tape is on (tfjs-core's TapeNode). */
interface TapeNode {
  id: number;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: (tf.Tensor | null)[]) => Record<string, () => tf.Tensor>;
  kernelName: string;
}

/** The members of tfjs' Engine this module uses (stable across tfjs 4.x; not in its public types). */
interface EngineTape {
  state: { activeTape: TapeNode[] | null; gradientDepth: number };
  startTape(): void;
  endTape(): void;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  tidy<T>(name: string, f: () => T): T;
}

function engine(): EngineTape {
  const e = tf.engine() as unknown as Partial<EngineTape>;
  if (typeof e.startTape !== 'function' || typeof e.scopedRun !== 'function' || e.state === undefined) {
    throw new Error('gradients: this tfjs engine has no gradient tape to read (tfjs 4.x expected)');
  }
  return e as EngineTape;
}

/**
 * The nodes of `tape` on a path from one of `xs` to `y`, in tape order, each with only its inputs
 * that depend on `xs` (the others get no gradient).
 */
function pathsToY(tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    if (Object.values(node.inputs).some((t) => fromX.has(t.id))) {
      nodesFromX.add(node.id);
      for (const o of node.outputs) fromX.add(o.id);
    }
  }
  const toY = new Set([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i];
    if (node.outputs.some((o) => toY.has(o.id))) {
      nodesToY.add(node.id);
      for (const t of Object.values(node.inputs)) toY.add(t.id);
    }
  }
  return tape
    .filter((n) => nodesFromX.has(n.id) && nodesToY.has(n.id))
    .map((n) => ({ ...n, inputs: Object.fromEntries(Object.entries(n.inputs).filter(([, t]) => fromX.has(t.id))) }));
}

/**
 * y = f() and dy/dx for each of `xs` (null where y does not depend on x), with the backward pass
 * releasing what it no longer needs. `dy` seeds the backward pass (default: ones).
 */
export function gradients(f: () => tf.Tensor, xs: tf.Tensor[], dy: tf.Tensor | null = null): { value: tf.Tensor; grads: (tf.Tensor | null)[] } {
  const e = engine();
  try {
    const y = e.scopedRun(
      () => e.startTape(),
      () => e.endTape(),
      () => e.tidy('forward', f),
    );
    if (!(y instanceof tf.Tensor)) throw new Error('gradients: f must return a tensor');
    if (dy && !tf.util.arraysEqual(dy.shape, y.shape)) throw new Error(`gradients: dy [${dy.shape}] must have the shape of f's value [${y.shape}]`);
    return backward(e, pathsToY(e.state.activeTape ?? [], xs, y), xs, y, dy);
  } finally {
    // The outermost gradient (nothing will differentiate its backward pass again) closes the tape
    // and releases what its nodes saved, also where f or the backward pass threw (tfjs' own keeps
    // them then).
    if (e.state.gradientDepth === 0) {
      for (const node of e.state.activeTape ?? []) for (const t of node.saved ?? []) t.dispose();
      e.state.activeTape = null;
    }
  }
}

function backward(e: EngineTape, tape: TapeNode[], xs: tf.Tensor[], y: tf.Tensor, dy: tf.Tensor | null): { value: tf.Tensor; grads: (tf.Tensor | null)[] } {
  const firstOrder = e.state.gradientDepth === 0;
  return e.tidy('backward', () => {
    // The gradient of each tensor so far, by tensor id. One tensor may be the gradient of several
    // (an identity's gradient function may return its dy), so each is counted where it is held
    // and released when no entry holds it any more.
    const grad = new Map<number, tf.Tensor>();
    const holders = new Map<tf.Tensor, number>();
    const hold = (id: number, t: tf.Tensor) => {
      grad.set(id, t);
      holders.set(t, (holders.get(t) ?? 0) + 1);
    };
    const drop = (id: number) => {
      const t = grad.get(id);
      if (t === undefined) return;
      grad.delete(id);
      const n = holders.get(t)! - 1;
      if (n > 0) holders.set(t, n);
      else {
        holders.delete(t);
        if (t !== dy) t.dispose();
      }
    };
    // tf.ones is no kernel: in an inner pass a kernel here would join the outer tape as a function of x.
    hold(y.id, dy ?? tf.ones(y.shape));
    for (let i = tape.length - 1; i >= 0; i--) {
      const node = tape[i];
      if (!node.gradient) throw new Error(`gradients: no gradient is registered for ${node.kernelName}`);
      const partials = node.gradient(node.outputs.map((o) => grad.get(o.id) ?? null));
      for (const [name, x] of Object.entries(node.inputs)) {
        const thunk = partials[name];
        if (!thunk) throw new Error(`gradients: ${node.kernelName} gives no gradient for its input ${name}`);
        const dx = e.tidy(`${node.kernelName} gradient`, thunk);
        if (dx.dtype !== 'float32' || !tf.util.arraysEqual(dx.shape, x.shape)) {
          throw new Error(`gradients: the gradient of ${node.kernelName}'s input ${name} is ${dx.dtype} [${dx.shape}], its input [${x.shape}]`);
        }
        const sum = grad.get(x.id);
        if (sum === undefined) {
          hold(x.id, dx);
        } else {
          const total = tf.add(sum, dx);
          drop(x.id);
          hold(x.id, total);
          if (!holders.has(dx) && dx !== dy) dx.dispose();
        }
      }
      // This node's output gradients are used up (the output gradients are still held while the
      // node's partial gradients are computed: those may read them).
      for (const o of node.outputs) drop(o.id);
      if (firstOrder) for (const t of node.saved ?? []) t.dispose();
    }
    return { value: y, grads: xs.map((x) => grad.get(x.id) ?? null) };
  });
}

/** tf.variableGrads(f, vars) with the memory-releasing backward pass: the loss and, by variable name, its gradients. */
export function variableGrads(f: () => tf.Scalar, vars: tf.Variable[]): { value: tf.Scalar; grads: Record<string, tf.Tensor> } {
  const trainable = vars.filter((v) => v.trainable);
  if (trainable.length === 0) throw new Error('variableGrads: none of the variables is trainable');
  const { value, grads } = gradients(f, trainable);
  if (value.rank !== 0) throw new Error(`variableGrads: f must return a scalar, not a rank-${value.rank} tensor`);
  if (grads.every((g) => g === null)) throw new Error('variableGrads: the loss depends on none of the variables');
  const named: Record<string, tf.Tensor> = {};
  for (const [i, v] of trainable.entries()) if (grads[i]) named[v.name] = grads[i]!;
  return { value: value as tf.Scalar, grads: named };
}

/** tf.grad(f) with the memory-releasing backward pass: x -> d f(x) / dx (seeded with `dy`, default ones). */
export function grad(f: (x: tf.Tensor) => tf.Tensor): (x: tf.Tensor, dy?: tf.Tensor) => tf.Tensor {
  return (x, dy) =>
    tf.tidy(() => {
      const { grads } = gradients(() => f(x), [x], dy ?? null);
      if (!grads[0]) throw new Error('grad: f(x) does not depend on x');
      return grads[0];
    });
}
