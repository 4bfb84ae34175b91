// Dependencies point one way: the lower layers (io, ops, networks, losses, native) never import
// the higher ones (train, metrics, cli), and nothing but cli imports cli. Run by `npm run lint`;
// prints each offending import and exits 1.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';

const SRC = path.join(path.dirname(new URL(import.meta.url).pathname), '..', 'src');
const LOWER = ['io', 'ops', 'networks', 'losses', 'native'];
const forbidden = (layer) => (LOWER.includes(layer) ? ['train', 'metrics', 'cli'] : layer === 'cli' ? [] : ['cli']);
const bad = [];
for (const layer of readdirSync(SRC, { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name)) {
  for (const file of readdirSync(path.join(SRC, layer), { recursive: true }).filter((f) => String(f).endsWith('.ts'))) {
    const text = readFileSync(path.join(SRC, layer, String(file)), 'utf8');
    for (const m of text.matchAll(/from '\.\.\/([a-z_]+)\//g)) {
      if (forbidden(layer).includes(m[1])) bad.push(`src/${layer}/${file} imports src/${m[1]}/ (a higher layer)`);
    }
  }
}
for (const b of bad) console.error(b);
if (bad.length) process.exit(1);
console.log(`layers: ${LOWER.join(', ')} import no higher layer; only cli imports cli`);
