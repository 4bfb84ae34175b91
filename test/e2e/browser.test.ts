// A run's index.html in a real browser: Debian's chromium, headless, loads the page from disk with
// the network disabled; no console errors (checked against a control page whose error must be
// seen), the curves and the sample grids are in the rendered DOM, and a screenshot is kept in
// test-artifacts/. .ci/run installs chromium; elsewhere the test is skipped when it is missing.
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { finetune } from '../../src/train/run.js';
import { compareRuns } from '../../src/metrics/compare.js';
import { writeComparisonHtml } from '../../src/report/compare_page.js';
import { defaultEmojiFeaturesPath, loadFeatureNetwork } from '../../src/metrics/features.js';
import { imageFolder, tempDir, tiny16Checkpoint } from '../train_helpers.js';
import { testBackend } from '../helpers.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const ARTIFACTS = path.resolve('test-artifacts');
let dir: string;
let runDir: string;
const cmpRuns: string[] = [];

function chromium(args: string[]) {
  const r = spawnSync(
    CHROMIUM!,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      `--user-data-dir=${path.join(dir, 'profile')}`,
      '--enable-logging=stderr',
      '--v=0',
      ...args,
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(r.status, 0, `chromium failed: ${r.stderr.slice(-1000)}`);
  return r;
}

// Headless Chromium does not print the page's console on stderr, so each page is loaded from a copy
// that first installs a collector: uncaught errors, rejected promises and console.error calls are
// written into an attribute of <html>, which --dump-dom shows.
const COLLECTOR = `<script>(()=>{const add=(m)=>document.documentElement.setAttribute('data-errors',(document.documentElement.getAttribute('data-errors')||'')+String(m)+';');
addEventListener('error',(e)=>add(e.message));addEventListener('unhandledrejection',(e)=>add(e.reason));const ce=console.error;console.error=(...a)=>{add(a.join(' '));ce(...a);};})()</script>`;

async function instrumented(file: string): Promise<string> {
  const html = await fs.readFile(file, 'utf8');
  const out = path.join(path.dirname(file), `instrumented-${path.basename(file)}`);
  await fs.writeFile(out, html.includes('<head>') ? html.replace('<head>', `<head>${COLLECTOR}`) : COLLECTOR + html);
  return `file://${out}`;
}

const consoleErrors = (dom: string) => {
  const m = /<html[^>]*data-errors="([^"]*)"/.exec(dom);
  return m ? m[1].split(';').filter(Boolean) : [];
};

describe('pages in headless Chromium', { skip: CHROMIUM ? false : process.env.CI ? false : 'chromium is not installed (.ci/run installs it)' }, () => {
  before(async () => {
    await testBackend();
    dir = await tempDir('browser');
    const ckpt = await tiny16Checkpoint(dir);
    const data = await imageFolder(path.join(dir, 'data'), 4);
    runDir = (
      await finetune(
        { data, network: ckpt, outdir: path.join(dir, 'runs'), batch: 4, kimg: 0.016, tick: 0.004, snap: 2, grid: [4, 2], backend: 'cpu' },
        { log: () => {} },
      )
    ).runDir;
    // Three short runs for compare.html: two seeds of one loss (error bands) and another loss.
    for (const [loss, seed] of [
      ['rooted', 0],
      ['rooted', 1],
      ['logistic', 0],
    ] as const) {
      const r = await finetune(
        { data, network: ckpt, outdir: path.join(dir, 'cmp-runs'), loss, seed, batch: 4, kimg: 0.008, tick: 0.004, snap: 1, grid: [2, 2], backend: 'cpu' },
        { log: () => {} },
      );
      cmpRuns.push(r.runDir);
    }
    await fs.mkdir(ARTIFACTS, { recursive: true });
  });

  test('the console-error check sees an error when there is one (control page)', async () => {
    assert.ok(CHROMIUM, 'chromium must be installed under CI');
    const bad = path.join(dir, 'bad.html');
    await fs.writeFile(bad, '<!doctype html><html><head></head><body><script>undefinedFunction()</script></body></html>');
    const errors = consoleErrors(chromium(['--dump-dom', await instrumented(bad)]).stdout);
    assert.equal(errors.length, 1, 'the control error was not detected');
    assert.match(errors[0], /undefinedFunction is not defined/);
  });

  test("a run's index.html: curves and grids render, no console errors, screenshot kept", async () => {
    const page = `file://${path.join(runDir, 'index.html')}`;
    const dom = chromium(['--dump-dom', await instrumented(path.join(runDir, 'index.html'))]);
    assert.deepEqual(consoleErrors(dom.stdout), []);
    const html = dom.stdout;
    assert.ok((html.match(/<svg class="chart"/g) ?? []).length >= 4, 'charts');
    assert.ok((html.match(/<polyline class="series"/g) ?? []).length >= 4, 'curves with points');
    assert.match(html, /<img id="grid" alt="generated samples" src="data:image\/png;base64,/);
    assert.ok((html.match(/<template class="g"/g) ?? []).length >= 3, 'a grid per snapshot for the slider');
    const shot = path.join(ARTIFACTS, 'run-index.png');
    chromium([`--screenshot=${shot}`, '--window-size=1200,1400', '--hide-scrollbars', page]);
    assert.ok((await fs.stat(shot)).size > 10_000, 'screenshot written');
    // Narrow screens: the charts scale down (phone width).
    chromium([`--screenshot=${path.join(ARTIFACTS, 'run-index-phone.png')}`, '--window-size=390,1600', '--hide-scrollbars', page]);
  });

  test("compare.html: table, a plot with error bands over seeds, each run's last grid; no console errors", {
    skip: existsSync(defaultEmojiFeaturesPath()) ? false : 'emoji feature network not built',
  }, async () => {
    const net = await loadFeatureNetwork({ kind: 'emoji' });
    const rows = await compareRuns(cmpRuns, net, { num: 8, cacheDir: null, includeStart: true, log: () => {} });
    net.dispose();
    const out = path.join(dir, 'cmp');
    await fs.mkdir(out);
    const file = await writeComparisonHtml(rows, cmpRuns, out);
    const dom = chromium(['--dump-dom', await instrumented(file)]);
    assert.deepEqual(consoleErrors(dom.stdout), []);
    assert.equal((dom.stdout.match(/<polygon /g) ?? []).length, 2, 'one ±1 sd band per loss');
    assert.equal((dom.stdout.match(/<figure><img /g) ?? []).length, 3, 'one grid per run');
    assert.match(dom.stdout, /<pre>run\s+loss\s+k\s+kimg\s+FED\s+KED/);
    chromium([`--screenshot=${path.join(ARTIFACTS, 'compare.png')}`, '--window-size=1200,1100', '--hide-scrollbars', `file://${file}`]);
  });
});
