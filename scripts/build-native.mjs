// Builds the native addon (our SGEMM and fused kernels for the CPU backend) at install time. It
// needs only what node-gyp needs: a C compiler, make and python3. It never fails the install:
// without them the pure-JS path is used, and this prints (and the backend line repeats) what to
// install.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import * as path from 'node:path';

export const BUILD_HINT = "install a C compiler, make and python3 (Debian/Ubuntu: 'apt-get install build-essential python3'), then run 'npm run build:native'";
const warn = (why) => console.warn(`stylegan-rlo: native CPU kernels not built (${why}); ${BUILD_HINT}`);

if (process.env.STYLEGAN_RLO_SKIP_NATIVE === '1') process.exit(0);
const has = (cmd) => spawnSync(cmd, ['--version'], { stdio: 'ignore' }).status === 0;
const cc = [process.env.CC, 'cc', 'gcc', 'clang'].filter(Boolean).find(has);
if (!cc) {
  warn('no C compiler found');
  process.exit(0);
}
if (!has('make')) {
  warn('make not found');
  process.exit(0);
}
if (!['python3', 'python'].some(has)) {
  warn('python3 not found');
  process.exit(0);
}
const candidates = [
  process.env.npm_config_node_gyp,
  path.join(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
].filter((p) => p && existsSync(p));
if (!candidates.length) {
  warn('node-gyp not found');
  process.exit(0);
}
// Build against the installed Node headers (there is no download at install time).
const nodedir =
  process.env.npm_config_nodedir ?? [path.join(path.dirname(process.execPath), '..')].find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
const args = [candidates[0], 'rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.status !== 0) {
  const last =
    `${r.stderr}`
      .trim()
      .split('\n')
      .filter((l) => /error/i.test(l))
      .slice(-1)[0] ?? `node-gyp exited with ${r.status}`;
  warn(`build failed: ${last.trim()}`);
  process.exit(0);
}
console.log('stylegan-rlo: built native CPU kernels (build/Release/rlo_native.node)');
