// Backend selection. `auto` prefers a hardware GPU through WebGPU (the optional npm package
// `webgpu`), then tfjs-node-gpu with a visible GPU, then tfjs-node, then the CPU backend with our
// native BLAS kernels, then the pure-JS CPU backend. `webgpu` also takes a software adapter
// (SwiftShader), which is how it is tested without a GPU. The choice is reported once on stderr.
import { readdirSync } from 'node:fs';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';
import { loadNativeKernels, nativeStatus } from './native/index.js';
import { releaseWebGpu, startWebGpu } from './webgpu/device.js';

export type BackendChoice = 'auto' | 'webgpu' | 'tensorflow-gpu' | 'tensorflow' | 'cpu' | 'cpu-js' | 'wasm';
export const BACKEND_CHOICES: BackendChoice[] = ['auto', 'webgpu', 'tensorflow-gpu', 'tensorflow', 'cpu', 'cpu-js', 'wasm'];

export interface BackendInfo {
  name: string; // tfjs backend name ('tensorflow', 'cpu', 'wasm').
  description: string; // What runs, for the one-line report.
  gpu: boolean;
  nativeKernels: boolean;
}

let active: BackendInfo | null = null;
let cpuJsRegistered = false;

/**
 * Registers 'cpu-js': the cpu backend with tfjs' own pure-JS kernels, copied before the native
 * kernels replace some of them on 'cpu'. It is the reference the native kernels are tested against.
 */
export function registerCpuJsBackend(): void {
  if (cpuJsRegistered) return;
  cpuJsRegistered = true;
  tf.registerBackend(
    'cpu-js',
    () => {
      const b = new MathBackendCPU();
      (b as unknown as { firstUse: boolean }).firstUse = false;
      return b;
    },
    0,
  );
  for (const k of tf.getKernelsForBackend('cpu')) tf.registerKernel({ ...k, backendName: 'cpu-js' });
}

async function tryImport(pkg: string): Promise<string | null> {
  try {
    await import(pkg);
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

function tensorflowUsesGpu(): boolean {
  const b = tf.backend() as unknown as { isUsingGpuDevice?: boolean };
  return b.isUsingGpuDevice === true;
}

function quietCpuBanner(): void {
  // The cpu backend prints a multi-line "install tfjs-node" banner on first use; we report the
  // backend ourselves instead.
  const b = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
  if (b) b.firstUse = false;
}

async function useCpu(native: boolean): Promise<BackendInfo> {
  if (!native) {
    await tf.setBackend('cpu-js');
    return { name: 'cpu-js', description: 'cpu (pure JS kernels)', gpu: false, nativeKernels: false };
  }
  await tf.setBackend('cpu');
  quietCpuBanner();
  if (loadNativeKernels()) {
    return { name: 'cpu', description: `cpu + native kernels (${nativeStatus().detail})`, gpu: false, nativeKernels: true };
  }
  return { name: 'cpu', description: `cpu (pure JS; ${nativeStatus().hint})`, gpu: false, nativeKernels: false };
}

/**
 * Selects and initializes a backend. Explicit choices that cannot load throw one clear line.
 * `report` prints "backend: ..." on stderr once.
 */
export async function initBackend(choice: BackendChoice | string = process.env.STYLEGAN_RLO_BACKEND ?? 'auto', report = true): Promise<BackendInfo> {
  if (!BACKEND_CHOICES.includes(choice as BackendChoice)) {
    throw new Error(`unknown backend '${choice}'; choose one of ${BACKEND_CHOICES.join(', ')}`);
  }
  registerCpuJsBackend();
  let info: BackendInfo;
  switch (choice as BackendChoice) {
    case 'webgpu': {
      const gpu = await startWebGpu(true);
      info = { name: 'webgpu', description: gpu!.description, gpu: !gpu!.software, nativeKernels: false };
      break;
    }
    case 'tensorflow-gpu': {
      const err = await tryImport('@tensorflow/tfjs-node-gpu');
      if (err)
        throw new Error(
          `backend tensorflow-gpu is not available: @tensorflow/tfjs-node-gpu did not load (${err}); it needs an NVIDIA GPU with CUDA 11.2 and cuDNN 8.1, and 'npm install @tensorflow/tfjs-node-gpu'`,
        );
      await tf.setBackend('tensorflow');
      info = {
        name: 'tensorflow',
        description: `tensorflow (tfjs-node-gpu, ${tensorflowUsesGpu() ? 'GPU' : 'no GPU visible: running on CPU'})`,
        gpu: tensorflowUsesGpu(),
        nativeKernels: false,
      };
      break;
    }
    case 'tensorflow': {
      const err = await tryImport('@tensorflow/tfjs-node');
      if (err)
        throw new Error(
          `backend tensorflow is not available: @tensorflow/tfjs-node did not load (${err}); 'npm install @tensorflow/tfjs-node' needs to download libtensorflow`,
        );
      await tf.setBackend('tensorflow');
      info = { name: 'tensorflow', description: 'tensorflow (tfjs-node, CPU)', gpu: false, nativeKernels: false };
      break;
    }
    case 'wasm':
      if (!(await tf.setBackend('wasm'))) throw new Error('backend wasm failed to initialize');
      info = { name: 'wasm', description: 'wasm (no Conv2DBackpropFilter kernel: inference only)', gpu: false, nativeKernels: false };
      break;
    case 'cpu':
      info = await useCpu(true);
      break;
    case 'cpu-js':
      info = await useCpu(false);
      break;
    default: {
      info = await autoSelect();
    }
  }
  await tf.ready();
  if (report && (active === null || active.description !== info.description)) process.stderr.write(`backend: ${info.description}\n`);
  active = info;
  return info;
}

/**
 * Whether probing for a GPU is worth it: on Linux only with a GPU device node (a DRM render node,
 * or NVIDIA's), since probing loads every Vulkan driver, and a CPU-only one (lavapipe) that Dawn
 * rejects prints warnings of its own on stderr. Elsewhere (macOS, Windows) always.
 */
function mayHaveGpu(): boolean {
  if (process.platform !== 'linux') return true;
  const has = (dir: string, re: RegExp) => {
    try {
      return readdirSync(dir).some((f) => re.test(f));
    } catch {
      return false;
    }
  };
  return has('/dev/dri', /^renderD\d+$/) || has('/dev', /^nvidia\d+$/);
}

async function autoSelect(): Promise<BackendInfo> {
  // A GPU through WebGPU first (a hardware adapter only: never the software fallback unless asked).
  const gpu = mayHaveGpu() ? await startWebGpu(false).catch(() => null) : null;
  if (gpu) return { name: 'webgpu', description: gpu.description, gpu: true, nativeKernels: false };
  if (!(await tryImport('@tensorflow/tfjs-node-gpu'))) {
    await tf.setBackend('tensorflow');
    if (tensorflowUsesGpu()) return { name: 'tensorflow', description: 'tensorflow (tfjs-node-gpu, GPU)', gpu: true, nativeKernels: false };
  }
  if (!(await tryImport('@tensorflow/tfjs-node'))) {
    await tf.setBackend('tensorflow');
    return { name: 'tensorflow', description: 'tensorflow (tfjs-node, CPU)', gpu: false, nativeKernels: false };
  }
  return useCpu(true);
}

/**
 * Lets the process end: waits for a GPU backend's queued work, reports an error it raised (throws),
 * and releases the device (Dawn keeps Node alive while a device lives). A no-op on other backends.
 */
export async function releaseBackend(): Promise<void> {
  if (active?.name === 'webgpu') await releaseWebGpu();
}

/** The backend chosen by the last initBackend call, or null. */
export function activeBackend(): BackendInfo | null {
  return active;
}
