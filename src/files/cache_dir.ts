// The one cache folder (downloaded networks, Inception weights, feature statistics of image
// folders): $STYLEGAN_RLO_CACHE, else $XDG_CACHE_HOME/stylegan-rlo, else ~/.cache/stylegan-rlo.
import * as os from 'node:os';
import * as path from 'node:path';

export function cacheDir(): string {
  if (process.env.STYLEGAN_RLO_CACHE) return process.env.STYLEGAN_RLO_CACHE;
  // XDG: a relative XDG_CACHE_HOME is invalid and must be ignored.
  const xdg = process.env.XDG_CACHE_HOME;
  return path.join(xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), '.cache'), 'stylegan-rlo');
}
