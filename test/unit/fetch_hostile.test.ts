// fetch against hostile or broken servers on 127.0.0.1: every case either ends with the exact
// file or with a one-line error and nothing kept. Each case once went through (issue: a 416 kept a
// truncated file, a 206 that ignored the offset spliced one, an HTML page was cached as a .pkl, an
// endless body filled the disk, a mirror's file name was served as a manifest network).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { fetchNetwork, looksLikeNetworkFile, readManifest, redactUrl, sha256File } from '../../src/io/fetch.js';
import { tempDir } from '../train_helpers.js';

const body = Buffer.from(Buffer.alloc(200_000, 0).map((_, i) => (i < 2 ? [0x80, 2][i] : (i * 13 + 5) & 0xff))); // a pickle's first bytes
const sha = createHash('sha256').update(body).digest('hex');
const other = Buffer.from(body.map((b, i) => (i < 2 ? b : b ^ 0x5a))); // same size, other bytes
let server: http.Server;
let base: string;
const seen: { url: string; range: string | undefined; auth: string | undefined }[] = [];

/** Serves `data` honouring Range requests correctly (206 with Content-Range). */
function serveRanges(req: http.IncomingMessage, res: http.ServerResponse, data: Buffer): void {
  const m = /bytes=(\d+)-/.exec(req.headers.range ?? '');
  const start = m ? Number(m[1]) : 0;
  res.writeHead(m ? 206 : 200, {
    'Content-Length': data.length - start,
    ...(m ? { 'Content-Range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
  });
  res.end(data.subarray(start));
}

before(async () => {
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? '', range: req.headers.range, auth: req.headers.authorization });
    const url = req.url ?? '';
    if (url === '/good/net.pkl') return serveRanges(req, res, body);
    if (url === '/mirror/net.pkl') return serveRanges(req, res, other);
    if (url === '/416/net.pkl') {
      // Refuses every range, claiming the whole file is the full body's size.
      if (req.headers.range) {
        res.writeHead(416, { 'Content-Range': `bytes */${body.length}` });
        res.end();
        return;
      }
      return serveRanges(req, res, body);
    }
    if (url === '/206-from-zero/net.pkl') {
      // Answers a range with 206 but sends the file from its start.
      if (req.headers.range) {
        res.writeHead(206, { 'Content-Length': body.length, 'Content-Range': `bytes 0-${body.length - 1}/${body.length}` });
        res.end(body);
        return;
      }
      return serveRanges(req, res, body);
    }
    if (url === '/html/net.pkl') {
      const page = Buffer.from(`<!DOCTYPE html><html><body>${'Please log in. '.repeat(200)}</body></html>`);
      res.writeHead(200, { 'Content-Type': 'text/html', 'Content-Length': page.length });
      res.end(page);
      return;
    }
    if (url === '/endless/net.pkl') {
      // No Content-Length, and a body that never ends.
      res.writeHead(200);
      const chunk = Buffer.alloc(64 * 1024, 1);
      chunk[0] = 0x80;
      chunk[1] = 2;
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
      return;
    }
    if (url === '/huge/net.pkl') {
      res.writeHead(200, { 'Content-Length': String(10 ** 15) });
      res.write(body.subarray(0, 16));
      setTimeout(() => res.destroy(), 2000);
      return;
    }
    if (url === '/short/net.pkl') {
      // Claims more than it sends, then ends the response cleanly.
      res.writeHead(200, { 'Content-Length': body.length + 10, Connection: 'close' });
      res.end(body);
      return;
    }
    if (url === '/secret/net.pkl') {
      res.writeHead(503);
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  return new Promise<void>((r) => server.close(() => r()));
});

async function manifest(dir: string, entry: object): Promise<string> {
  const f = path.join(dir, 'manifest.json');
  await fs.writeFile(
    f,
    JSON.stringify({ networks: [{ name: 'tiny', description: 'test', resolution: 16, size: null, sha256: null, license: 'x', ...entry }] }),
  );
  return f;
}

const quiet = { log: () => {} };

describe('fetch against hostile servers', () => {
  test('a 416 answer to a range restarts the download instead of keeping the partial file', async () => {
    const dir = await tempDir('hostile');
    const m = await manifest(dir, { url: `${base}/416/net.pkl` });
    await fs.writeFile(path.join(dir, 'net.pkl.part'), body.subarray(0, 70_000));
    const lines: string[] = [];
    const f = await fetchNetwork('tiny', { manifest: m, cache: dir, log: (l) => lines.push(l) });
    assert.deepEqual(await fs.readFile(f), body);
    assert.match(lines[0], /tiny: the server refused to resume at byte 70000 \(HTTP 416, its file has 200000 bytes\); downloading it again from the start/);
  });

  test('a 206 that ignores the requested offset is not spliced onto the partial file', async () => {
    const dir = await tempDir('hostile');
    const m = await manifest(dir, { url: `${base}/206-from-zero/net.pkl`, size: body.length, sha256: sha });
    await fs.writeFile(path.join(dir, 'net.pkl.part'), body.subarray(0, 50_000));
    const lines: string[] = [];
    const f = await fetchNetwork('tiny', { manifest: m, cache: dir, log: (l) => lines.push(l) });
    assert.equal(await sha256File(f), sha);
    assert.match(lines[0], /did not resume at byte 50000 \(Content-Range "bytes 0-199999\/200000"\)/);
  });

  test('an HTML page served with 200 is refused in one line and nothing is cached', async () => {
    const dir = await tempDir('hostile');
    await assert.rejects(
      fetchNetwork(`${base}/html/net.pkl`, { cache: dir, ...quiet }),
      (e: Error) => /\/html\/net\.pkl sent an HTML page, not a network file; check the URL \(nothing was kept\)$/.test(e.message) && !e.message.includes('\n'),
    );
    assert.deepEqual(await fs.readdir(dir), []);
  });

  test('an endless body stops at the size cap and leaves nothing behind', async () => {
    const dir = await tempDir('hostile');
    const t0 = Date.now();
    await assert.rejects(
      fetchNetwork(`${base}/endless/net.pkl`, { cache: dir, maxBytes: 2_000_000, ...quiet }),
      /sent more than 2000000 bytes; refusing it \(nothing was kept\)/,
    );
    assert.ok(Date.now() - t0 < 10_000, 'stopped within seconds');
    assert.deepEqual(await fs.readdir(dir), []);
    // With the manifest's size pinned, the pin is the cap.
    const m = await manifest(dir, { url: `${base}/endless/net.pkl`, size: 300_000 });
    await assert.rejects(fetchNetwork('tiny', { manifest: m, cache: dir, ...quiet }), /sent more than 300000 bytes/);
    assert.deepEqual(await fs.readdir(dir), ['manifest.json']);
  });

  test('a Content-Length over the cap or over the free disk space is refused before anything is written', async () => {
    const dir = await tempDir('hostile');
    await assert.rejects(fetchNetwork(`${base}/huge/net.pkl`, { cache: dir, ...quiet }), /offers 1000000000000000 bytes, more than the 4294967296-byte limit/);
    await assert.rejects(
      fetchNetwork(`${base}/huge/net.pkl`, { cache: dir, maxBytes: 10 ** 16, ...quiet }),
      /needs 953674316\.4 MB but .* MB free; free some space or set STYLEGAN_RLO_CACHE to a larger disk/,
    );
    assert.deepEqual(await fs.readdir(dir), []);
  });

  test('a body shorter than its Content-Length is not kept as complete', async () => {
    const dir = await tempDir('hostile');
    await assert.rejects(fetchNetwork(`${base}/short/net.pkl`, { cache: dir, attempts: 1, ...quiet }), /connection closed|200000 of 200010 bytes/);
    assert.ok(!(await fs.readdir(dir)).some((f) => f.endsWith('net.pkl')), 'no file under the final name');
  });

  test("a mirror's file of the same name is never served as the manifest network", async () => {
    const dir = await tempDir('hostile');
    const mirror = await fetchNetwork(`${base}/mirror/net.pkl`, { cache: dir, ...quiet });
    assert.deepEqual(await fs.readFile(mirror), other);
    const m = await manifest(dir, { url: `${base}/good/net.pkl` });
    const f = await fetchNetwork('tiny', { manifest: m, cache: dir, ...quiet });
    assert.notEqual(f, mirror);
    assert.deepEqual(await fs.readFile(f), body);
    // A file placed under the manifest's name without a record of where it came from is fetched again.
    const placed = await tempDir('hostile');
    await fs.writeFile(path.join(placed, 'net.pkl'), other);
    const lines: string[] = [];
    const again = await fetchNetwork('tiny', { manifest: m, cache: placed, log: (l) => lines.push(l) });
    assert.deepEqual(await fs.readFile(again), body);
    assert.match(lines[0], /has no checksum record \(an older download\); downloading tiny again/);
  });

  test('a cached file changed after its download is detected on next use', async () => {
    const dir = await tempDir('hostile');
    const m = await manifest(dir, { url: `${base}/good/net.pkl` });
    const f = await fetchNetwork('tiny', { manifest: m, cache: dir, ...quiet });
    assert.match(await fs.readFile(`${f}.sha256`, 'utf8'), new RegExp(`^${sha}  net\\.pkl\\n`));
    const tampered = Buffer.from(body);
    tampered[1000] ^= 1;
    await fs.writeFile(f, tampered);
    await assert.rejects(
      fetchNetwork('tiny', { manifest: m, cache: dir, ...quiet }),
      new RegExp(`net\\.pkl changed after it was downloaded \\(sha256 [0-9a-f]{64}, expected ${sha}\\); delete it and fetch again`),
    );
    await fs.writeFile(f, tampered.subarray(0, 100));
    await assert.rejects(fetchNetwork('tiny', { manifest: m, cache: dir, ...quiet }), /changed after it was downloaded \(100 bytes, expected 200000\)/);
    // A pinned sha256 is checked too, whatever the record says.
    await fs.writeFile(f, body);
    const pinned = await manifest(dir, { url: `${base}/good/net.pkl`, sha256: '1'.repeat(64) });
    await assert.rejects(fetchNetwork('tiny', { manifest: pinned, cache: dir, ...quiet }), /changed after it was downloaded/);
  });

  test('credentials in a URL are sent but never echoed', async () => {
    const dir = await tempDir('hostile');
    seen.length = 0;
    const url = `${base.replace('//', '//alice:s3cret@')}/secret/net.pkl`;
    await assert.rejects(fetchNetwork(url, { cache: dir, attempts: 2, ...quiet }), (e: Error) => {
      assert.ok(!e.message.includes('s3cret') && !e.message.includes('alice'), e.message);
      assert.match(e.message, /HTTP 503 .* for http:\/\/\*\*\*@127\.0\.0\.1:\d+\/secret\/net\.pkl/);
      return true;
    });
    assert.equal(seen[0].auth, `Basic ${Buffer.from('alice:s3cret').toString('base64')}`);
    assert.equal(redactUrl('https://u:p@host/x.pkl'), 'https://***@host/x.pkl');
    assert.equal(redactUrl('https://host/a@b.pkl'), 'https://host/a@b.pkl');
  });

  test('the bundled network matches the size and sha256 its manifest entry pins', async () => {
    const entry = (await readManifest()).find((e) => e.name === 'emoji32')!;
    const f = await fetchNetwork('emoji32');
    assert.equal((await fs.stat(f)).size, entry.size);
    assert.equal(await sha256File(f), entry.sha256);
    const head = Buffer.alloc(16);
    const fh = await fs.open(f, 'r');
    await fh.read(head, 0, 16, 0).finally(() => fh.close());
    assert.ok(looksLikeNetworkFile(head));
  });

  test('a shipped network that was changed is refused', async () => {
    const dir = await tempDir('hostile');
    await fs.writeFile(path.join(dir, 'x.safetensors'), body);
    const m = path.join(dir, 'manifest.json');
    await fs.writeFile(m, JSON.stringify({ networks: [{ name: 'x', file: 'x.safetensors', url: null, size: body.length, sha256: '2'.repeat(64) }] }));
    await assert.rejects(
      fetchNetwork('x', { manifest: m }),
      /x\.safetensors: sha256 [0-9a-f]{64} does not match the manifest's 2{64}: the file was changed; restore it/,
    );
    await fs.writeFile(m, JSON.stringify({ networks: [{ name: 'x', file: 'x.safetensors', url: null, size: 5, sha256: null }] }));
    await assert.rejects(fetchNetwork('x', { manifest: m }), /has 200000 bytes, the manifest pins 5/);
  });
});
