// `stylegan-rlo fetch`: download a pretrained network into the cache.
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { fetchNetwork, progressReporter, readManifest } from '../io/fetch.js';
import { cacheDir } from '../files/cache_dir.js';

interface Args {
  name?: string;
  list: boolean;
  manifest?: string;
  cache?: string;
}

export const fetchCommand: CommandModule<object, Args> = {
  command: 'fetch [name]',
  describe: 'Download a pretrained network (by manifest name or URL) into the cache, resumably',
  builder: (y: Argv) =>
    y
      .positional('name', { type: 'string', describe: 'Name from pretrained/manifest.json, or an http(s) URL' })
      .option('list', { type: 'boolean', default: false, describe: 'List the known networks' })
      .option('manifest', { type: 'string', describe: 'Another manifest file' })
      .option('cache', { type: 'string', describe: `Cache folder (default ${cacheDir()}, or $STYLEGAN_RLO_CACHE)` })
      .example('$0 fetch --list', '')
      .example('$0 fetch ffhq256', 'Download the FFHQ 256x256 source net; prints its path') as unknown as Argv<Args>,
  handler: async (a: ArgumentsCamelCase<Args>) => {
    if (a.list || !a.name) {
      for (const e of await readManifest(a.manifest)) process.stdout.write(`${e.name.padEnd(22)} ${String(e.resolution).padStart(4)}px  ${e.description}\n`);
      return;
    }
    const file = await fetchNetwork(a.name, { manifest: a.manifest, cache: a.cache, progress: progressReporter(a.name) });
    process.stdout.write(`${file}\n`);
  },
};
