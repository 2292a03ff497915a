// bundle validate DIR | bundle info DIR | bundle build-index DIR [--factory F] [--metric ip|l2] [--threads N]
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { buildIndex } from './index-builder';
import { INDEX_FILE, loadBundle } from './loader';
import { fileEntry, readManifest, writeManifest } from './manifest';
import { readNpyFloat32 } from './npy';

const USAGE = `usage:
  bundle validate DIR                    check every file, checksum, shape and weight
  bundle info DIR                        counts, dims, sizes, versions
  bundle build-index DIR [--factory "IVF4096,Flat"] [--metric ip|l2] [--threads N]`;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

async function validate(dir: string): Promise<void> {
  const t0 = Date.now();
  const b = await loadBundle(dir, { buildIndex: false });
  console.log(`ok: ${b.manifest.name} ${b.manifest.version}: ${b.items.n} items, dim ${b.manifest.embeddingDim}, index ${b.index.kind} (${b.index.ntotal}), validated in ${Date.now() - t0} ms`);
}

async function info(dir: string): Promise<void> {
  const m = await readManifest(dir);
  const total = Object.values(m.files).reduce((a, f) => a + f.bytes, 0);
  const out = {
    name: m.name,
    version: m.version,
    formatVersion: m.formatVersion,
    createdAt: m.createdAt,
    items: m.itemCount,
    embeddingDim: m.embeddingDim,
    objectives: m.objectives,
    surfaces: Object.keys(m.defaultWeights),
    index: m.index,
    featureLayout: m.features.layout,
    models: m.models,
    files: Object.fromEntries(Object.entries(m.files).map(([k, v]) => [k, mib(v.bytes)])),
    totalSize: mib(total),
  };
  console.log(JSON.stringify(out, null, 2));
}

async function rebuildIndex(dir: string, factory: string | undefined, metric: string | undefined, threads: number): Promise<void> {
  const m = await readManifest(dir);
  const f = factory ?? m.index.factory;
  const met = metric ?? m.index.metric;
  if (met !== 'ip' && met !== 'l2') throw new Error('--metric must be ip or l2');
  const emb = await readNpyFloat32(path.join(dir, 'item_embeddings.npy'));
  if (emb.shape[0] !== m.itemCount || emb.shape[1] !== m.embeddingDim) {
    throw new Error(`item_embeddings.npy has shape (${emb.shape.join(', ')}), manifest says (${m.itemCount}, ${m.embeddingDim})`);
  }
  const t0 = Date.now();
  const index = await buildIndex(emb.data, m.embeddingDim, { factory: f, metric: met, progress: true, threads });
  const file = path.join(dir, INDEX_FILE);
  await index.write(`${file}.tmp`);
  await fs.rename(`${file}.tmp`, file);
  m.files[INDEX_FILE] = await fileEntry(file);
  m.index = { ...m.index, factory: f, metric: met };
  await writeManifest(dir, m);
  console.log(`wrote ${file}: ${f} (${met}), ${index.ntotal} vectors in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { factory: { type: 'string' }, metric: { type: 'string' }, threads: { type: 'string' } },
  });
  const [cmd, dir] = positionals;
  if (!cmd || !dir) throw new Error(USAGE);
  switch (cmd) {
    case 'validate':
      return validate(dir);
    case 'info':
      return info(dir);
    case 'build-index':
      return rebuildIndex(dir, values.factory, values.metric, Number(values.threads ?? 2));
    default:
      throw new Error(`unknown command "${cmd}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
