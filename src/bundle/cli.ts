// bundle validate DIR | bundle info DIR | bundle build-index DIR [--factory F] [--metric ip|l2] [--nprobe N] [--threads N] | --help
import { parseArgs } from 'node:util';

import { rebuildBundleIndex } from './index-builder';
import { loadBundle } from './loader';
import { readManifest } from './manifest';

export const USAGE = `usage: npm run bundle -- COMMAND DIR [options]

commands:
  validate DIR      check every file, checksum, shape and weight
  info DIR          counts, dims, sizes, versions
  build-index DIR   rebuild the index from the embeddings

build-index options:
  --factory F       FAISS index factory string (default: the manifest's, e.g. "IVF4096,SQ8")
  --metric ip|l2    inner product or L2 distance (default: the manifest's)
  --nprobe N        the manifest's default IVF search setting
  --threads N       training and adding threads (default 2)

  --help, -h        this text

The demo world's bundle (written by npm start): .data/demo-world/bundle`;

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

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      factory: { type: 'string' },
      metric: { type: 'string' },
      nprobe: { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const [cmd, dir] = positionals;
  if (!cmd || !dir) throw new Error(USAGE);
  switch (cmd) {
    case 'validate':
      return validate(dir);
    case 'info':
      return info(dir);
    case 'build-index': {
      const metric = values.metric;
      if (metric !== undefined && metric !== 'ip' && metric !== 'l2') throw new Error('--metric must be ip or l2');
      const nprobe = values.nprobe === undefined ? undefined : Number(values.nprobe);
      if (nprobe !== undefined && !(Number.isInteger(nprobe) && nprobe >= 1)) throw new Error('--nprobe must be an integer >= 1');
      const t0 = Date.now();
      const r = await rebuildBundleIndex(dir, { factory: values.factory, metric, nprobe, threads: Number(values.threads ?? 2), progress: true });
      console.log(`wrote ${r.file}: ${r.factory} (${r.metric}), ${r.ntotal} vectors in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return;
    }
    default:
      throw new Error(`unknown command "${cmd}"\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exitCode = 1;
});
