// Builds the optional native addon (oneDNN kernels for the CPU backend) at install time.
// Never fails the install: without oneDNN the pure-JS path is used, with a one-line hint.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

const HINT = "stylegan-rlo: native CPU kernels not built (%s); install Debian's libdnnl-dev and run 'npm run build:native' for the fast CPU path";

if (process.env.STYLEGAN_RLO_SKIP_NATIVE === '1') process.exit(0);
const header = ['/usr/include/dnnl.h', '/usr/local/include/dnnl.h'].find((p) => existsSync(p));
if (!header) {
  console.warn(HINT.replace('%s', 'oneDNN headers not found'));
  process.exit(0);
}
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
if (!candidates.length) {
  console.warn(HINT.replace('%s', 'node-gyp not found'));
  process.exit(0);
}
// Build against the installed Node headers (there is no download at install time).
const nodedir = process.env.npm_config_nodedir
  ?? [path.join(path.dirname(process.execPath), '..')].find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
const args = [candidates[0], 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const last = `${r.stderr}`.trim().split('\n').filter((l) => /error/i.test(l)).slice(-1)[0] ?? `node-gyp exited with ${r.status}`;
  console.warn(HINT.replace('%s', `build failed: ${last.trim()}`));
  process.exit(0);
}
console.log('stylegan-rlo: built native CPU kernels (build/Release/rlo_native.node)');
