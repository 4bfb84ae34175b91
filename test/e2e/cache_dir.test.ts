// One cache folder, chosen the same way everywhere; the suite itself caches in a temporary folder.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { cacheDir } from '../../src/files/cache_dir.js';
import { defaultInceptionPath, INCEPTION_FILE } from '../../src/metrics/weights.js';

test('the test suite never caches in the real home folder', () => {
  assert.ok(process.env.STYLEGAN_RLO_CACHE, 'npm test loads test/setup.js');
  assert.ok(cacheDir().startsWith(os.tmpdir()), cacheDir());
});

test('cacheDir: STYLEGAN_RLO_CACHE, else an absolute XDG_CACHE_HOME, else ~/.cache; Inception weights live there', () => {
  const probe = (env: Record<string, string | undefined>) => {
    const r = spawnSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `const m = await import(${JSON.stringify(path.resolve('dist/src/files/cache_dir.js'))}); const w = await import(${JSON.stringify(path.resolve('dist/src/metrics/weights.js'))}); console.log(JSON.stringify([m.cacheDir(), w.defaultInceptionPath()]))`,
      ],
      { encoding: 'utf8', env: { PATH: process.env.PATH, HOME: '/home/someone', ...env } },
    );
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout) as [string, string];
  };
  assert.deepEqual(probe({ STYLEGAN_RLO_CACHE: '/c', XDG_CACHE_HOME: '/x' }), ['/c', `/c/${INCEPTION_FILE}`]);
  assert.deepEqual(probe({ XDG_CACHE_HOME: '/x' }), ['/x/stylegan-rlo', `/x/stylegan-rlo/${INCEPTION_FILE}`]);
  assert.deepEqual(probe({ XDG_CACHE_HOME: 'relative' }), ['/home/someone/.cache/stylegan-rlo', `/home/someone/.cache/stylegan-rlo/${INCEPTION_FILE}`]);
  assert.deepEqual(probe({}), ['/home/someone/.cache/stylegan-rlo', `/home/someone/.cache/stylegan-rlo/${INCEPTION_FILE}`]);
  assert.equal(defaultInceptionPath(), process.env.STYLEGAN_RLO_INCEPTION ?? path.join(cacheDir(), INCEPTION_FILE));
});
