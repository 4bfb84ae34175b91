// Loaded before every test file (node --import): the suite never writes into the user's real
// cache. Each test process, and every CLI it spawns, caches under one fresh temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

process.env.STYLEGAN_RLO_CACHE = mkdtempSync(path.join(os.tmpdir(), 'rlo-cache-'));
const cache = process.env.STYLEGAN_RLO_CACHE;
process.on('exit', () => rmSync(cache, { recursive: true, force: true }));

// node --test runs os.availableParallelism() - 1 test files at once. Where that is more than one,
// several processes' OpenMP threads (the native kernels) share the cores, and their spinning waits
// hold cores the others need (README, Troubleshooting): 4 heavy test files at concurrency 2 on 2
// cores took 79 s spinning, 51 s passive. Waiting threads sleep instead, unless the caller chose.
// Set here, before any test loads the addon (libgomp reads it when it loads); spawned CLIs inherit it.
if (os.availableParallelism() > 2 && process.env.OMP_WAIT_POLICY === undefined) process.env.OMP_WAIT_POLICY = 'passive';
