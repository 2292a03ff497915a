// Retrieval's FAISS search alone, as the W1 cascade runs it: the demo world's
// index (IVF1024,Flat, d = 32, nprobe 128), one query per call on the calling
// thread (searchSync), queries taken from the catalog's own vectors. Reports
// mean wall and CPU µs per search for k = 1000 and k = 100. For a before/after
// of the addon, run it twice, once with RANK_NATIVE_ADDON=<old .node file>.
//
//   node dist/bench/demo-search.js [--searches 6000]
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { loadBundle } from '../src/bundle/loader';
import { VectorIndex } from '../src/native/vector-index';
import { ensureWorld } from '../tools/world/cache';
import { DEFAULT_WORLD } from '../tools/world/schema';

const ROOT = path.join(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { searches: { type: 'string', default: '6000' } } });
  const n = Number(values.searches);
  const paths = await ensureWorld(path.join(ROOT, '.data', 'demo-world'), DEFAULT_WORLD, (m) => console.error(m));
  const bundle = await loadBundle(paths.bundle, { progress: false });
  const index: VectorIndex = bundle.index;
  const d = bundle.manifest.embeddingDim;
  const emb = bundle.embeddings;
  const rows = bundle.items.n;
  const queries = Array.from({ length: 64 }, (_, i) => emb.slice(((i * 7919) % rows) * d, (((i * 7919) % rows) + 1) * d));
  const nprobe = bundle.manifest.index.nprobe;
  for (const k of [1000, 100]) {
    const opts = { k, nprobe };
    for (let j = 0; j < 300; j++) index.searchSync(queries[j % 64], opts);
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    for (let j = 0; j < n; j++) index.searchSync(queries[j % 64], opts);
    const wall = Number(process.hrtime.bigint() - t0) / 1e3 / n;
    const c = process.cpuUsage(c0);
    console.log(`${bundle.manifest.index.factory} nprobe ${nprobe}, ${rows} x ${d}, k ${k}: ${wall.toFixed(1)} µs wall, ${((c.user + c.system) / n).toFixed(1)} µs CPU per search (${index.kind})`);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
