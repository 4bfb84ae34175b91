// Loaded before every test file (node --import): the suite never writes into the user's real
// cache. Each test process, and every CLI it spawns, caches under one fresh temporary folder.
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

process.env.STYLEGAN_RLO_CACHE = mkdtempSync(path.join(os.tmpdir(), 'rlo-cache-'));
const cache = process.env.STYLEGAN_RLO_CACHE;
process.on('exit', () => rmSync(cache, { recursive: true, force: true }));
