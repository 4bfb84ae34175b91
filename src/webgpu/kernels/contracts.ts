// What the webgpu kernels take from tfjs' webgpu backend package (optional: loaded at run time by
// src/webgpu/device.ts, never imported as a value here).
export type TfjsWebGpu = typeof import('@tensorflow/tfjs-backend-webgpu');
