// What a --network (or `info`/`convert` source) argument may name: a network file, a run
// directory (its latest snapshot), or a manifest name such as emoji32 (fetched into the cache).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { fetchNetwork } from '../io/fetch.js';
import { latestSnapshot } from '../io/run_layout.js';

/** The network file an argument names; a run directory's latest snapshot is said on stderr. */
export async function resolveNetworkArg(n: string): Promise<string> {
  const st = await fs.stat(n).catch(() => null);
  if (st?.isDirectory()) {
    const latest = await latestSnapshot(n);
    if (!latest) throw new Error(`${n} is a folder without network-snapshot-*.safetensors: give a network file, or a run directory`);
    process.stderr.write(`${n}: its latest snapshot, ${path.basename(latest)}\n`);
    return latest;
  }
  if (st) return n;
  if (/^[\w-]+$/.test(n)) return fetchNetwork(n);
  return n;
}
