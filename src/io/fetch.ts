// Downloads pretrained networks into a cache, and serves them from it only while they verify.
// A download goes to a .part file, resumable with HTTP Range (used only when the server honours
// the range exactly), capped in size, checked against the free disk space up front, against
// Content-Length/Content-Range on every response, against the manifest's size and sha256, and
// for the magic bytes of a network file; only then is it renamed into the cache, with a
// sha256sum-style record beside it that every later use checks (a changed file is detected).
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from '../files/cache_dir.js';
import { OptionError } from '../files/option_error.js';

export interface ManifestEntry {
  name: string;
  description: string;
  resolution: number;
  url: string | null;
  file?: string; // shipped in pretrained/ (no download)
  size: number | null; // bytes; null where this project has not seen the file
  sha256: string | null;
  license: string;
}

/** Largest download taken when neither the manifest nor the caller says otherwise (4 GiB). */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 4 * 2 ** 30;
/** Space left free on the cache's disk beyond the download itself. */
const FREE_SPACE_MARGIN = 64 * 2 ** 20;

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
  let m: { networks?: ManifestEntry[] };
  try {
    m = JSON.parse(raw) as { networks?: ManifestEntry[] };
  } catch {
    throw new Error(`manifest ${file}: not valid JSON`);
  }
  if (!Array.isArray(m.networks)) throw new Error(`manifest ${file}: expected {"networks": [...]}`);
  for (const e of m.networks) {
    const where = `manifest ${file}: entry ${JSON.stringify(e?.name)}`;
    if (typeof e?.name !== 'string' || !e.name) throw new Error(`${where}: needs a "name"`);
    if (e.size !== null && e.size !== undefined && !(Number.isSafeInteger(e.size) && e.size > 0))
      throw new Error(`${where}: "size" must be a positive whole number of bytes or null`);
    if (e.sha256 !== null && e.sha256 !== undefined && !/^[0-9a-f]{64}$/.test(e.sha256))
      throw new Error(`${where}: "sha256" must be 64 lowercase hex digits or null`);
    e.size ??= null;
    e.sha256 ??= null;
  }
  return m.networks;
}

export interface FetchOptions {
  manifest?: string;
  cache?: string;
  attempts?: number; // download attempts, each resuming the .part file (default 3)
  progress?: (done: number, total: number | null) => void;
  log?: (line: string) => void;
  timeoutMs?: number;
  maxBytes?: number; // refuse larger downloads (default: the manifest's size, else DEFAULT_MAX_DOWNLOAD_BYTES)
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(file)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** A URL as it may be shown: user and password replaced, never echoed. */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, '$1***@');
}

function get(url: string, headers: Record<string, string>, timeoutMs: number, redirects = 5): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = url.startsWith('https:') ? https : http;
    const req = mod.get(url, { headers }, (res) => {
      const loc = res.headers.location;
      if (res.statusCode && res.statusCode >= 300 && res.statusCode < 400 && loc) {
        res.resume();
        if (redirects <= 0) return reject(new Error(`too many redirects for ${redactUrl(url)}`));
        return resolve(get(new URL(loc, url).toString(), headers, timeoutMs, redirects - 1));
      }
      resolve(res);
    });
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' })));
    req.on('error', reject);
  });
}

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

/** A refusal that no retry can change (wrong content, too large, no space): the .part file is removed. */
class FetchRefused extends Error {}

/** The first bytes of a file this toolkit can load: pickle (protocol 2+), zip (torch), safetensors. */
export function looksLikeNetworkFile(head: Buffer): boolean {
  if (head.length >= 2 && head[0] === 0x80 && head[1] >= 2 && head[1] <= 5) return true;
  if (head.length >= 4 && head.readUInt32LE(0) === 0x04034b50) return true;
  return head.length >= 9 && head.readUInt32LE(4) === 0 && head[8] === 0x7b; // u64 header length, then '{'
}

function describeHead(head: Buffer, contentType: string | undefined): string {
  const text = head.toString('latin1', 0, Math.min(head.length, 64)).trimStart().toLowerCase();
  if (/html/.test(contentType ?? '') || text.startsWith('<!doctype html') || text.startsWith('<html') || text.startsWith('<')) return 'an HTML page';
  return `content starting ${JSON.stringify(head.toString('latin1', 0, Math.min(head.length, 16)))}`;
}

/** Content-Range: bytes START-END/TOTAL (or bytes *\/TOTAL on a 416). */
function parseContentRange(v: string | undefined): { start: number | null; end: number | null; total: number | null } | null {
  const m = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec((v ?? '').trim());
  if (!m) return null;
  return {
    start: m[1] === undefined ? null : Number(m[1]),
    end: m[2] === undefined ? null : Number(m[2]),
    total: m[3] === '*' ? null : Number(m[3]),
  };
}

async function freeBytes(dir: string): Promise<number | null> {
  const s = await fs.statfs(dir).catch(() => null);
  return s ? s.bavail * s.bsize : null;
}

interface Expect {
  size: number | null; // the manifest's pinned size
  maxBytes: number;
  name: string;
}

/**
 * One attempt: continues `part` from its size when the server honours the range exactly,
 * otherwise starts it again. Resolves when the body ended complete.
 */
async function downloadOnce(url: string, part: string, x: Expect, o: FetchOptions): Promise<void> {
  const have = await fs.stat(part).then(
    (s) => s.size,
    () => 0,
  );
  const shown = redactUrl(url);
  // Measured before the request: no await may come between the response and its listeners (a
  // close while awaiting would go unseen, and the transfer would wait forever).
  const free = await freeBytes(path.dirname(part));
  const res = await get(url, have > 0 ? { Range: `bytes=${have}-` } : {}, o.timeoutMs ?? 30000);
  const status = res.statusCode ?? 0;
  const cr = parseContentRange(res.headers['content-range']);
  const restart = async (why: string) => {
    res.resume();
    (o.log ?? (() => {}))(`${x.name}: ${why}; downloading it again from the start`);
    await fs.rm(part, { force: true });
    return downloadOnce(url, part, x, o);
  };
  if (status === 416) {
    // "Range not satisfiable": complete only if the server's total is exactly what is here.
    if (have > 0 && cr?.total === have) {
      res.resume();
      return;
    }
    return restart(`the server refused to resume at byte ${have} (HTTP 416${cr?.total != null ? `, its file has ${cr.total} bytes` : ''})`);
  }
  if (status !== 200 && status !== 206) {
    res.resume();
    throw new HttpError(status, `server answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''} for ${shown}`);
  }
  if (status === 206) {
    if (have === 0) {
      res.resume();
      throw new FetchRefused(`${shown}: the server sent part of the file (HTTP 206) to a request for all of it`);
    }
    if (!cr || cr.start !== have || cr.end === null || (cr.total !== null && cr.end !== cr.total - 1))
      return restart(`the server did not resume at byte ${have} (Content-Range ${JSON.stringify(res.headers['content-range'] ?? null)})`);
  }
  const resumed = status === 206;
  const len = Number(res.headers['content-length'] ?? Number.NaN);
  if (resumed && Number.isFinite(len) && len !== cr!.end! - cr!.start! + 1)
    return restart(`the server's Content-Length ${len} does not match its Content-Range ${res.headers['content-range']}`);
  const total = resumed ? (cr!.total ?? have + len) : Number.isFinite(len) ? len : null;
  if (total !== null && x.size !== null && total !== x.size) {
    res.resume();
    throw new FetchRefused(`${x.name}: the server offers ${total} bytes, the manifest pins ${x.size}; refusing it (check the URL or the manifest)`);
  }
  if (total !== null && total > x.maxBytes) {
    res.resume();
    throw new FetchRefused(`${x.name}: the server offers ${total} bytes, more than the ${x.maxBytes}-byte limit; refusing it`);
  }
  if (total !== null) {
    const need = total - (resumed ? have : 0);
    if (free !== null && need + FREE_SPACE_MARGIN > free) {
      res.resume();
      throw new FetchRefused(
        `${x.name}: needs ${(need / 2 ** 20).toFixed(1)} MB but ${path.dirname(part)} has ${(free / 2 ** 20).toFixed(1)} MB free; free some space or set STYLEGAN_RLO_CACHE to a larger disk`,
      );
    }
  }
  let done = resumed ? have : 0;
  const out = createWriteStream(part, { flags: resumed ? 'a' : 'w' });
  await new Promise<void>((resolve, reject) => {
    let broken: Error | null = null;
    let head: Buffer | null = resumed ? null : Buffer.alloc(0);
    // A broken transfer is reported only once what arrived is on disk: the caller measures the
    // partial file to say what was kept, and the next attempt resumes from its size.
    const fail = (e: Error) => {
      if (broken) return;
      broken = e;
      res.unpipe(out);
      res.destroy();
      out.end(() => reject(e));
    };
    res.on('data', (c: Buffer) => {
      done += c.length;
      if (done > x.maxBytes || (total !== null && done > total)) {
        fail(new FetchRefused(`${x.name}: the server sent more than ${total ?? x.maxBytes} bytes; refusing it`));
        return;
      }
      // The first bytes decide whether this is a network file at all (not an error page).
      if (head !== null && head.length < 16) {
        head = Buffer.concat([head, c]).subarray(0, 16);
        if (head.length >= 16 && !looksLikeNetworkFile(head)) {
          fail(new FetchRefused(`${shown} sent ${describeHead(head, res.headers['content-type'])}, not a network file; check the URL`));
          return;
        }
      }
      o.progress?.(done, total);
    });
    res.on('aborted', () => fail(new Error('connection closed mid-download')));
    // Some closes come without 'aborted' or 'error': a response that closed incomplete has failed.
    res.on('close', () => {
      if (!res.complete) fail(new Error('connection closed mid-download'));
    });
    res.on('error', (e) => fail(e));
    out.on('error', (e) => fail(e));
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
    return new OptionError(
      (o) =>
        `cannot download ${redactUrl(url)} (${code}: offline or unreachable); download it where you have access and pass the file with ${o('network')}, or place it at ${dest}`,
    );
  }
  return new Error(e.message.split(url).join(redactUrl(url)));
}

/** The record kept beside a cached download: `sha256  name`, as sha256sum writes it, then the size and source. */
interface CacheRecord {
  sha256: string;
  size: number;
  url: string;
}

function recordPath(dest: string): string {
  return `${dest}.sha256`;
}

async function readRecord(dest: string): Promise<CacheRecord | null> {
  const raw = await fs.readFile(recordPath(dest), 'utf8').catch(() => null);
  if (raw === null) return null;
  const m = /^([0-9a-f]{64}) {2}\S.*\n# size (\d+)\n# url (.*)\n$/.exec(raw);
  return m ? { sha256: m[1], size: Number(m[2]), url: m[3] } : null;
}

async function writeRecord(dest: string, r: CacheRecord): Promise<void> {
  const tmp = `${recordPath(dest)}.${process.pid}.tmp`;
  await fs.writeFile(tmp, `${r.sha256}  ${path.basename(dest)}\n# size ${r.size}\n# url ${r.url}\n`);
  await fs.rename(tmp, recordPath(dest));
}

/**
 * Checks a cached file against the manifest's pins and the record written when it was
 * downloaded. Returns false when it cannot be trusted and may be fetched again (no record, or
 * downloaded from another URL); throws when it changed after it was verified.
 */
async function verifyCached(dest: string, entry: ManifestEntry, url: string, log: (l: string) => void): Promise<boolean> {
  const rec = await readRecord(dest);
  if (!rec || rec.url !== redactUrl(url)) {
    log(`${dest}: ${rec ? 'was downloaded from another URL' : 'has no checksum record (an older download)'}; downloading ${entry.name} again`);
    return false;
  }
  const size = (await fs.stat(dest)).size;
  const want = entry.sha256 ?? rec.sha256;
  const digest = size === (entry.size ?? rec.size) ? await sha256File(dest) : null;
  if (digest !== want || rec.sha256 !== want)
    throw new Error(
      `${dest} changed after it was downloaded (${digest === null ? `${size} bytes, expected ${entry.size ?? rec.size}` : `sha256 ${digest}, expected ${want}`}); delete it and fetch again`,
    );
  return true;
}

/** Resolves a manifest name (or an http(s) URL) to a verified local file, downloading it when needed. */
export async function fetchNetwork(nameOrUrl: string, o: FetchOptions = {}): Promise<string> {
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let entry: ManifestEntry | undefined;
  const dir = o.cache ?? cacheDir();
  let dest: string;
  if (/^https?:\/\//i.test(nameOrUrl)) {
    let name: string;
    try {
      name = path.posix.basename(decodeURIComponent(new URL(nameOrUrl).pathname));
    } catch {
      throw new Error(`${redactUrl(nameOrUrl)} is not a valid URL`);
    }
    if (!name || name === '.' || name === '..' || nameOrUrl.endsWith('/'))
      throw new Error(`${redactUrl(nameOrUrl)} names no file; give the URL of the network file itself (…/name.pkl)`);
    entry = { name, description: '', resolution: 0, url: nameOrUrl, size: null, sha256: null, license: 'unknown' };
    // Kept apart from the manifest's files by a hash of the URL: a mirror's file of the same name
    // is never served as a manifest network, nor one URL's file as another's.
    const tag = createHash('sha256').update(redactUrl(nameOrUrl)).digest('hex').slice(0, 12);
    dest = path.join(dir, `url-${tag}-${name}`);
  } else {
    const manifestFile = o.manifest ?? process.env.STYLEGAN_RLO_MANIFEST ?? defaultManifestPath();
    const list = await readManifest(manifestFile);
    entry = list.find((e) => e.name === nameOrUrl);
    if (!entry) throw new Error(`unknown network '${nameOrUrl}'; known: ${list.map((e) => e.name).join(', ')} (or give an http(s) URL)`);
    if (entry.file) return verifiedShippedFile(path.resolve(path.dirname(manifestFile), entry.file), entry);
    if (!entry.url) throw new Error(`${entry.name} has no download URL`);
    dest = path.join(dir, path.posix.basename(decodeURIComponent(new URL(entry.url).pathname)));
  }
  const url = entry.url!;
  await fs.mkdir(dir, { recursive: true });
  const existing = await fs.stat(dest).catch(() => null);
  if (existing && !existing.isFile()) throw new Error(`${dest} exists but is not a file; move it away and fetch again`);
  if (existing) {
    if (await verifyCached(dest, entry, url, log)) return dest;
    await fs.rm(dest, { force: true });
  }
  const part = `${dest}.part`;
  const x: Expect = { size: entry.size, maxBytes: o.maxBytes ?? entry.size ?? DEFAULT_MAX_DOWNLOAD_BYTES, name: entry.name };
  const attempts = o.attempts ?? 3;
  for (let a = 1; ; a++) {
    try {
      await downloadOnce(url, part, x, o);
      break;
    } catch (e) {
      if (e instanceof FetchRefused) {
        await fs.rm(part, { force: true });
        throw new Error(`${e.message} (nothing was kept)`);
      }
      if ((e as NodeJS.ErrnoException).code === 'ENOSPC') {
        await fs.rm(part, { force: true });
        throw new Error(`${entry.name}: the disk of ${dir} is full; the partial download was removed (free some space or set STYLEGAN_RLO_CACHE)`);
      }
      const err = networkError(e as NodeJS.ErrnoException, url, dest);
      // Retry only transfers that broke off; an unreachable host stays unreachable.
      const unreachable = ['ENOTFOUND', 'EAI_AGAIN', 'ECONNREFUSED', 'ENETUNREACH', 'EHOSTUNREACH'].includes((e as NodeJS.ErrnoException).code ?? '');
      if (e instanceof HttpError && e.final) throw new Error(`${e.message}: check the URL (nothing was retried or kept)`);
      if (a >= attempts || unreachable) {
        const have = await fs.stat(part).then(
          (s) => s.size,
          () => 0,
        );
        const kept = have ? ` (${have} bytes kept in ${part}; run fetch again to resume)` : '';
        throw err instanceof OptionError ? new OptionError((o) => `${err.words(o)}${kept}`) : new Error(`${err.message}${kept}`);
      }
      log(`download interrupted (${err.message}); resuming, attempt ${a + 1} of ${attempts}`);
    }
  }
  const size = (await fs.stat(part)).size;
  if (entry.size !== null && size !== entry.size) {
    await fs.rm(part, { force: true });
    throw new Error(`${entry.name}: downloaded ${size} bytes, the manifest pins ${entry.size}; the download was deleted`);
  }
  const head = Buffer.alloc(16);
  const fh = await fs.open(part, 'r');
  const { bytesRead } = await fh.read(head, 0, 16, 0).finally(() => fh.close());
  if (!looksLikeNetworkFile(head.subarray(0, bytesRead))) {
    await fs.rm(part, { force: true });
    throw new Error(`${redactUrl(url)} sent ${describeHead(head.subarray(0, bytesRead), undefined)}, not a network file; check the URL (nothing was kept)`);
  }
  const digest = await sha256File(part);
  if (entry.sha256 && digest !== entry.sha256) {
    await fs.rm(part, { force: true });
    throw new Error(`${entry.name}: sha256 ${digest} does not match the manifest's ${entry.sha256}; the download was deleted`);
  }
  await writeRecord(dest, { sha256: digest, size, url: redactUrl(url) });
  await fs.rename(part, dest);
  if (!entry.sha256)
    log(`${entry.name}: sha256 ${digest}, ${size} bytes (not pinned in the manifest; recorded in ${recordPath(dest)} and checked on every use)`);
  return dest;
}

/** A network shipped beside the manifest, checked against its pins (a changed file is refused). */
async function verifiedShippedFile(f: string, entry: ManifestEntry): Promise<string> {
  const st = await fs.stat(f).catch(() => null);
  if (!st?.isFile()) throw new Error(`${entry.name} should ship in ${f}, which is missing`);
  if (entry.size !== null && st.size !== entry.size)
    throw new Error(`${f} has ${st.size} bytes, the manifest pins ${entry.size}: the file was changed or cut short; restore it (git checkout)`);
  if (entry.sha256 !== null) {
    const digest = await sha256File(f);
    if (digest !== entry.sha256)
      throw new Error(`${f}: sha256 ${digest} does not match the manifest's ${entry.sha256}: the file was changed; restore it (git checkout)`);
  }
  return f;
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
