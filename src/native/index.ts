// Loads the optional native addon (build/Release/rlo_native.node, built from native/ at install
// time with node-gyp; no system libraries needed) and registers its kernels on the tfjs cpu backend.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { NativeAddon } from './contracts.js';
import { registerNativeKernels } from './kernels/register_all.js';

const HINT =
  "install a C compiler, make and python3 (Debian/Ubuntu: 'apt-get install build-essential python3'), then run 'npm run build:native' for the fast CPU path";

/** GEMM engines: ours (default), or oneDNN / OpenBLAS where the machine has them (loaded at run time). */
export const GEMM_ENGINES = ['ours', 'onednn', 'openblas'] as const;

let addon: NativeAddon | null = null;
let loadError: string | null = null;
let registered = false;

function projectRoot(): string {
  // dist/src/native/index.js -> project root
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
}

function tryLoad(): NativeAddon | null {
  if (addon || loadError) return addon;
  const file = path.join(projectRoot(), 'build', 'Release', 'rlo_native.node');
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (e) {
    loadError = (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND' ? 'native addon not built' : (e as Error).message.split('\n')[0];
    return null;
  }
  const engine = process.env.STYLEGAN_RLO_GEMM;
  if (engine && !addon.gemmSelect(engine)) {
    const have = addon.gemmEngines();
    addon = null;
    loadError = `STYLEGAN_RLO_GEMM=${engine} is not available here (available: ${have}; 'onednn' needs Debian's libdnnl3 or libdnnl2, 'openblas' libopenblas0)`;
  }
  return addon;
}

/** Registers the native kernels on the cpu backend; false when the addon is unavailable. */
export function loadNativeKernels(): boolean {
  if (process.env.STYLEGAN_RLO_NO_NATIVE === '1') {
    loadError = 'disabled by STYLEGAN_RLO_NO_NATIVE=1';
    return false;
  }
  const a = tryLoad();
  if (!a) return false;
  if (!registered) {
    registerNativeKernels(a);
    registered = true;
  }
  return true;
}

export function nativeStatus(): { loaded: boolean; detail: string; hint: string } {
  if (addon) return { loaded: true, detail: addon.info(), hint: '' };
  const why = loadError ?? 'native addon not loaded';
  return { loaded: false, detail: why, hint: why.startsWith('STYLEGAN_RLO_GEMM') ? why : `${why}: ${HINT}` };
}

/** The raw addon, for benchmarks and tests (null when unavailable). */
export function nativeAddon(): NativeAddon | null {
  return tryLoad();
}
