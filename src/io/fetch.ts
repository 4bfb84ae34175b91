// Downloads pretrained networks into a cache: resumable (HTTP Range into a .part file, retried),
// progress on stderr, sha256 verified when the manifest knows it, atomic rename at the end.
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache_dir.js';

export interface ManifestEntry {
  name: string;
  description: string;
  resolution: number;
  url: string | null;
  file?: string; // shipped in pretrained/ (no download)
  size: number | null;
  sha256: string | null;
  license: string;
}

export function defaultManifestPath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'pretrained', 'manifest.json');
}

export async function readManifest(file = process.env.STYLEGAN_RLO_MANIFEST ?? defaultManifestPath()): Promise<ManifestEntry[]> {
  let raw: string;
  try {
    raw = await fs.readFile(file, 'utf8');
  } catch {
    throw new Error(`manifest ${file} not found`);
  }
  const m = JSON.parse(raw) as { networks?: ManifestEntry[] };
  if (!Array.isArray(m.networks)) throw new Error(`manifest ${file}: expected {"networks": [...]}`);
  return m.networks;
}

export interface FetchOptions {
  manifest?: string;
  cache?: string;
  attempts?: number; // download attempts, each resuming the .part file (default 3)
  progress?: (done: number, total: number | null) => void;
  log?: (line: string) => void;
  timeoutMs?: number;
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

function get(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { headers }, (res) => {
      const loc = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && loc) {
        res.resume();
        if (redirects <= 0) return reject(new Error(`too many redirects for ${url}`));
        return resolve(get(new URL(loc, url).toString(), headers, timeoutMs, redirects - 1));
      }
      resolve(res);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

/** One attempt: appends to `part` from its current size. Resolves when the body ended complete. */
/** An HTTP status the server answered with; 4xx (other than timeouts and rate limits) will not change on retry. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
  get final(): boolean {
    return this.status >= 400 && this.status < 500 && this.status !== 408 && this.status !== 429;
  }
}

async function downloadOnce(url: string, part: string, o: FetchOptions): Promise<void> {
  const have = await fs.stat(part).then(
    (s) => s.size,
    () => 0,
  );
  const res = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, o.timeoutMs ?? 30000);
  if (res.statusCode === 416) {
    res.resume();
    return;
  } // already complete
  if (res.statusCode !== 200 && res.statusCode !== 206) {
    res.resume();
    throw new HttpError(res.statusCode ?? 0, `server answered HTTP ${res.statusCode}${res.statusMessage ? ` ${res.statusMessage}` : ''} for ${url}`);
  }
  const resumed = res.statusCode === 206;
  const len = Number(res.headers['content-length'] ?? NaN);
  const total = Number.isFinite(len) ? (resumed ? have + len : len) : null;
  let done = resumed ? have : 0;
  const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
  await new Promise<void>((resolve, reject) => {
    let broken: Error | null = null;
    // A broken transfer is reported only once what arrived is on disk: the caller measures the
    // partial file to say what was kept, and the next attempt resumes from its size.
    const fail = (e: Error) => {
      if (broken) return;
      broken = e;
      res.unpipe(out);
      out.end(() => reject(e));
    };
    res.on('data', (c: Buffer) => {
      done += c.length;
      o.progress?.(done, total);
    });
    res.on('aborted', () => fail(new Error('connection closed mid-download')));
    res.on('error', fail);
    out.on('error', reject);
    res.pipe(out);
    out.on('finish', () => {
      if (broken) return;
      if (total !== null && done < total) reject(new Error(`connection closed after ${done} of ${total} bytes`));
      else resolve();
    });
  });
}

function networkError(e: NodeJS.ErrnoException, url: string, dest: string): Error {
  const code = e.code ?? '';
  if (['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET'].includes(code)) {
    return new Error(
      `cannot download ${url} (${code}: offline or unreachable); download it where you have access and pass the file with --network, or place it at ${dest}`,
    );
  }
  return e;
}

/** Resolves a manifest name (or an http(s) URL) to a local file, downloading it when needed. */
export async function fetchNetwork(nameOrUrl: string, o: FetchOptions = {}): Promise<string> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let entry: ManifestEntry | undefined;
  if (/^https?:\/\//.test(nameOrUrl)) {
    let name: string;
    try {
      name = path.posix.basename(decodeURIComponent(new URL(nameOrUrl).pathname));
    } catch {
      throw new Error(`${nameOrUrl} is not a valid URL`);
    }
    if (!name || name === '.' || name === '..' || nameOrUrl.endsWith('/'))
      throw new Error(`${nameOrUrl} names no file; give the URL of the network file itself (…/name.pkl)`);
    entry = { name: name, description: '', resolution: 0, url: nameOrUrl, size: null, sha256: null, license: 'unknown' };
  } else {
    const list = await readManifest(o.manifest);
    entry = list.find((e) => e.name === nameOrUrl);
    if (!entry) throw new Error(`unknown network '${nameOrUrl}'; known: ${list.map((e) => e.name).join(', ')} (or give an http(s) URL)`);
    if (entry.file) {
      const f = path.resolve(path.dirname(o.manifest ?? process.env.STYLEGAN_RLO_MANIFEST ?? defaultManifestPath()), entry.file);
      await fs.access(f).catch(() => {
        throw new Error(`${entry!.name} should ship in ${f}, which is missing`);
      });
      return f;
    }
  }
  if (!entry.url) throw new Error(`${entry.name} has no download URL`);
  const dir = o.cache ?? cacheDir();
  await fs.mkdir(dir, { recursive: true });
  const dest = path.join(dir, path.posix.basename(decodeURIComponent(new URL(entry.url).pathname)));
  const existing = await fs.stat(dest).catch(() => null);
  if (existing && !existing.isFile()) throw new Error(`${dest} exists but is not a file; move it away and fetch again`);
  if (existing) {
    if (entry.sha256 && (await sha256File(dest)) !== entry.sha256)
      throw new Error(`${dest} exists but its sha256 does not match the manifest; delete it and fetch again`);
    return dest;
  }
  const part = `${dest}.part`;
  const attempts = o.attempts ?? 3;
  for (let a = 1; ; a++) {
    try {
      await downloadOnce(entry.url, part, o);
      break;
    } catch (e) {
      const err = networkError(e as NodeJS.ErrnoException, entry.url, dest);
      // Retry only transfers that broke off; an unreachable host stays unreachable.
      const unreachable = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH'].includes((e as NodeJS.ErrnoException).code ?? '');
      if (e instanceof HttpError && e.final) throw new Error(`${e.message}: check the URL (nothing was retried or kept)`);
      if (a >= attempts || unreachable) {
        const have = await fs.stat(part).then(
          (s) => s.size,
          () => 0,
        );
        throw new Error(`${err.message}${have ? ` (${have} bytes kept in ${part}; run fetch again to resume)` : ''}`);
      }
      log(`download interrupted (${(e as Error).message}); resuming, attempt ${a + 1} of ${attempts}`);
    }
  }
  const size = (await fs.stat(part)).size;
  if (entry.size !== null && size !== entry.size) {
    throw new Error(`${entry.name}: downloaded ${size} bytes, the manifest says ${entry.size}; ${part} kept, run fetch again to resume`);
  }
  const digest = await sha256File(part);
  if (entry.sha256 && digest !== entry.sha256) {
    await fs.rm(part, { force: true });
    throw new Error(`${entry.name}: sha256 ${digest} does not match the manifest's ${entry.sha256}; the download was deleted`);
  }
  await fs.rename(part, dest);
  if (!entry.sha256) log(`${entry.name}: sha256 ${digest} (not pinned in the manifest)`);
  return dest;
}

/**
 * A progress reporter for stderr: a bar on a TTY, a line every 10% otherwise. `unit` says what is
 * counted: bytes (shown in MB) or images.
 */
export function progressReporter(label: string, unit: 'bytes' | 'images' = 'bytes'): (done: number, total: number | null) => void {
  let lastPct = -10;
  const tty = process.stderr.isTTY;
  const amount = (n: number) => (unit === 'bytes' ? `${(n / 2 ** 20).toFixed(1)} MB` : `${n} images`);
  return (done, total) => {
    if (total === null) {
      if (tty) process.stderr.write(`\r${label} ${amount(done)}`);
      return;
    }
    const pct = Math.floor((done / total) * 100);
    if (tty) {
      const w = 30,
        fill = Math.round((w * done) / total);
      process.stderr.write(
        `\r${label} [${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${pct}% ${unit === 'bytes' ? `${(done / 2 ** 20).toFixed(1)}/${amount(total)}` : `${done}/${amount(total)}`}`,
      );
      if (done >= total) process.stderr.write('\n');
    } else if (pct >= lastPct + 10 || done >= total) {
      lastPct = pct;
      process.stderr.write(`${label} ${pct}% (${unit === 'bytes' ? amount(done) : `${done} of ${total} images`})\n`);
    }
  };
}
