// Loads the optional native addon (build/Release/rlo_native.node, built from native/ over
// OpenBLAS at install time) and registers its kernels on the tfjs cpu backend.
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { registerNativeKernels, NativeAddon } from './kernels.js';

const HINT = "install Debian's libopenblas-dev and run 'npm rebuild stylegan-rlo' (or 'npm run build:native') for the fast CPU path";

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
  return { loaded: false, detail: loadError ?? 'not loaded', hint: `${loadError ?? 'native addon not loaded'}: ${HINT}` };
}

/** The raw addon, for benchmarks and tests (null when unavailable). */
export function nativeAddon(): NativeAddon | null {
  return tryLoad();
}
