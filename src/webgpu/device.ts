// The webgpu backend in Node: Dawn from the optional npm package `webgpu` as navigator.gpu, then
// tfjs' webgpu backend on it. Dawn reports invalid shaders, failed validation and out-of-memory
// only on the device's `uncapturederror` event, after which the failed commands have simply not
// run (their outputs read as zeros). So every error and a lost device are recorded, and every
// read of a tensor's data checks them: a command fails in one line naming the GPU program
// instead of computing with wrong numbers. Synchronous reads (dataSync) are impossible on this
// backend in Node, and say so.
import { mkdtempSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { TfjsWebGpu } from './kernels/contracts.js';
import { registerWebGpuKernels } from './kernels/register_all.js';

export interface WebGpuInfo {
  description: string; // for the one-line backend report
  software: boolean; // a CPU implementation (SwiftShader): correct, slow
}

/** The `webgpu` npm package version the project is tested with (package.json's optional dependency). */
export const WEBGPU_PACKAGE = 'webgpu@0.6.2';

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

let device: GPUDevice | null = null;
let released = false;
const deviceErrors: string[] = [];

/** The first line of a device error, with the GPU program it names ("in PadProgram"). */
function describeDeviceError(message: string): string {
  const first = message.split('\n')[0].trim();
  const program = /"(\w+Program)"/.exec(message)?.[1];
  return program ? `in the ${program} GPU kernel: ${first}` : first;
}

/** Throws the first recorded device error, if any (then clears them: one failure, one report). */
export function checkDevice(operation = 'a GPU command'): void {
  if (!deviceErrors.length) return;
  const first = deviceErrors[0];
  deviceErrors.length = 0;
  throw new Error(`webgpu: ${operation} failed ${first}; its results would be wrong, so this stops here (STYLEGAN_RLO_BACKEND=cpu runs without the GPU)`);
}

async function loadDawn(): Promise<DawnModule> {
  try {
    const pkg = 'webgpu'; // optional: the build must not need it
    return (await import(pkg)) as DawnModule;
  } catch (e) {
    const why = (e as Error).message.split('\n')[0];
    throw new Error(
      `backend webgpu is not available: the optional npm package 'webgpu' did not load (${why}); install it with 'npm install ${WEBGPU_PACKAGE}' (Linux also needs glibc 2.34 or newer and the Vulkan loader: apt install libvulkan1)`,
    );
  }
}

function installNavigatorGpu(dawn: DawnModule): GPU {
  const g = globalThis as unknown as Record<string, unknown> & { navigator?: { gpu?: GPU } };
  if (g.navigator?.gpu) return g.navigator.gpu;
  // Vulkan drivers probe for a display and print an error line each when a headless machine has no
  // XDG_RUNTIME_DIR; a private empty one keeps the command's output to its own lines.
  if (!process.env.XDG_RUNTIME_DIR) process.env.XDG_RUNTIME_DIR = mkdtempSync(path.join(os.tmpdir(), 'rlo-xdg-'));
  for (const [k, v] of Object.entries(dawn.globals)) if (!(k in g)) g[k] = v;
  const gpu = dawn.create([]);
  if (g.navigator) Object.defineProperty(g.navigator, 'gpu', { value: gpu, configurable: true });
  else Object.defineProperty(g, 'navigator', { value: { gpu }, configurable: true, writable: true });
  return gpu;
}

/**
 * Starts tfjs' webgpu backend on the best adapter. Returns null when only a software adapter
 * exists and `allowSoftware` is false (what `auto` asks); throws one line when it cannot start.
 */
export async function startWebGpu(allowSoftware: boolean): Promise<WebGpuInfo | null> {
  const gpu = installNavigatorGpu(await loadDawn());
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter)
    throw new Error(
      "backend webgpu found no GPU adapter: install your GPU's driver (Linux: with Vulkan support, and apt install libvulkan1); without a GPU, SwiftShader (Debian's chromium package) runs it on the CPU with VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json",
    );
  const info = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const software = info.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe/i.test(`${info.architecture} ${info.description}`);
  if (software && !allowSoftware) return null;
  const tfjsWebgpu = '@tensorflow/tfjs-backend-webgpu'; // optional, like webgpu
  const webgpu = (await import(tfjsWebgpu)) as TfjsWebGpu; // registers 'webgpu' now that navigator.gpu exists
  registerWebGpuKernels(webgpu);
  if (!(await tf.setBackend('webgpu').catch(() => false))) throw new Error('backend webgpu failed to initialize a GPU device (see the lines above for why)');
  const backend = tf.backend() as unknown as { device: GPUDevice; read: (id: object) => Promise<unknown>; readSync: (id: object) => unknown };
  device = backend.device;
  released = false;
  deviceErrors.length = 0;
  device.addEventListener('uncapturederror', (ev) => deviceErrors.push(describeDeviceError((ev as GPUUncapturedErrorEvent).error.message)));
  void device.lost.then((l) => {
    if (!released) deviceErrors.push(`because the GPU device was lost (${l.reason}: ${l.message.split('\n')[0]})`);
  });
  const read = backend.read.bind(backend);
  backend.read = async (id: object) => {
    const data = await read(id);
    checkDevice();
    return data;
  };
  // tfjs reads small CPU-resident tensors synchronously itself; a GPU-resident one needs an
  // OffscreenCanvas, which Node lacks.
  const readSync = backend.readSync.bind(backend);
  backend.readSync = (id: object) => {
    try {
      return readSync(id);
    } catch (e) {
      if (!/OffscreenCanvas/.test(String((e as Error).message))) throw e;
      throw new Error(
        'webgpu: a synchronous read (dataSync/arraySync) of GPU data is not possible in Node; this is a bug in the calling code: it must await data()',
      );
    }
  };
  const name = [info.vendor, info.architecture, info.description || info.device].filter(Boolean).join(' ');
  return { description: `webgpu (${name}${software ? '; software: SwiftShader on the CPU, slow' : ''})`, software };
}

/** Waits for the GPU's queued work, reports any error it raised, and releases the device so that Node can exit. */
export async function releaseWebGpu(): Promise<void> {
  if (!device || released) return;
  await device.queue.onSubmittedWorkDone();
  released = true;
  try {
    checkDevice('the last GPU command');
  } finally {
    device.destroy();
    device = null;
  }
}
