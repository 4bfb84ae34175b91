// The most tensor memory alive at once while a function runs, counted by data buffer. tfjs'
// tf.memory().numBytes (and tf.profile's peakBytes) add up every tensor, so a clone, a reshape or a
// tensor the tape saved for the backward pass counts its shared buffer again: a gradient tape
// doubles it. A backend allocates per buffer (webgpu: one GPU buffer each), so this is the figure
// that decides whether a batch fits. It follows the engine's bookkeeping: a buffer counts from the
// first tensor on it to the backend's release of it.
import * as tf from '@tensorflow/tfjs';

type DataId = object;
interface EngineBuffers {
  state: { tensorInfo: WeakMap<DataId, { bytes: number }> };
  trackTensor: (t: tf.Tensor, backend: unknown) => void;
  removeDataId: (dataId: DataId, backend: unknown) => void;
}

/**
 * Runs `f`; returns its result, the tensor bytes alive before it (tf.memory().numBytes) and the most
 * buffer bytes alive at once during it above that.
 */
export async function bufferPeak<T>(f: () => T | Promise<T>): Promise<{ result: T; baseBytes: number; peakAboveBase: number }> {
  const e = tf.engine() as unknown as EngineBuffers;
  const baseBytes = tf.memory().numBytes;
  let now = 0;
  let peak = 0;
  const hooks = {
    trackTensor(this: EngineBuffers, t: tf.Tensor, backend: unknown) {
      if (!this.state.tensorInfo.has(t.dataId)) {
        now += t.dtype === 'string' || t.dtype === 'complex64' ? 0 : t.size * tf.util.bytesPerElement(t.dtype);
        peak = Math.max(peak, now);
      }
      Object.getPrototypeOf(this).trackTensor.call(this, t, backend);
    },
    removeDataId(this: EngineBuffers, dataId: DataId, backend: unknown) {
      now -= this.state.tensorInfo.get(dataId)?.bytes ?? 0;
      Object.getPrototypeOf(this).removeDataId.call(this, dataId, backend);
    },
  };
  if (Object.hasOwn(e, 'trackTensor') || Object.hasOwn(e, 'removeDataId')) throw new Error('bufferPeak: already measuring');
  Object.assign(e, hooks);
  try {
    const result = await f();
    return { result, baseBytes, peakAboveBase: peak };
  } finally {
    delete (e as Partial<EngineBuffers>).trackTensor;
    delete (e as Partial<EngineBuffers>).removeDataId;
  }
}
