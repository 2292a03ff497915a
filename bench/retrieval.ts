// W2 retrieval alone, on the W2 world's own queries: for each index and
// nprobe, recall@1000 of the index search against the exact top 1000 (inner
// product over every row) and the time of one search on the calling thread
// (searchSync, as the cascade runs it). The queries are the user embeddings
// the engine computes (the bundle's user tower over each warm user's stored
// actions), so recall is that of real requests, not of synthetic vectors.
// The indexes: the world's own (IVF4096,Flat) and the same embeddings under
// other factories (bench/index-variant.ts), measured in turn for each nprobe
// so machine noise spreads over all of them. Reports, per index, the smallest
// nprobe with recall@1000 >= 0.95 and its latency: the retrieval
// target.
//
//   node dist/bench/retrieval.js [--users 200] [--nprobe 64,96,128,...] [--repeat 5]
//        [--factory world --factory IVF4096,SQfp16 --factory IVF4096,SQ8] [--refine 0,2,3] [--out retrieval-w2]
//
// --refine R (a list): for each SQfp16 index, also the two-pass search
// (SearchOptions.refine = R: an 8-bit first pass keeping R * 1000
// candidates, re-scored from the fp16 codes), as rows "<factory> refine R";
// 0 is the one-pass search. Other indexes only run at 0.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';

import { loadBundle } from '../src/bundle/loader';
import { Engine } from '../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../src/pipeline/options';
import { UserTower } from '../src/models/user-tower';
import { scoreRows, topK } from '../src/native';
import { ensureWorld } from '../tools/world/cache';
import { VectorIndex } from '../src/native/vector-index';
import { WORKLOADS } from './cascade';
import { ensureIndexVariant } from './index-variant';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');
const K = 1000;
const TARGET_RECALL = 0.95;
/** The retrieval target: median time of one search. */
const TARGET_US = 350;

interface Row {
  index: string;
  nprobe: number;
  recall: number;
  recallMin: number;
  us: { p50: number; p90: number; p99: number; mean: number };
  cpuUs: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      users: { type: 'string', default: '200' },
      nprobe: { type: 'string', default: '32,64,96,128,160,192,224,256,320,384,512' },
      repeat: { type: 'string', default: '5' },
      factory: { type: 'string', multiple: true },
      refine: { type: 'string', default: '0' },
      out: { type: 'string' },
    },
  });
  const nUsers = Number(values.users);
  const repeat = Number(values.repeat);
  const grid = values.nprobe!.split(',').map(Number);
  const spec = WORKLOADS.w2;
  const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => console.error(m));
  const bundle = await loadBundle(paths.bundle, { progress: false });
  const factories = values.factory ?? ['world', 'IVF4096,SQfp16', 'IVF4096,SQ8'];
  const refines = values.refine!.split(',').map(Number);
  if (refines.some((r) => !(r === 0 || (r >= 1 && r <= 64)))) throw new Error('--refine must list 0 or numbers in [1, 64]');
  const indexes: { name: string; index: VectorIndex; refine: number }[] = [];
  for (const f of factories) {
    let name: string;
    let index: VectorIndex;
    if (f === 'world') {
      name = bundle.manifest.index.factory;
      index = bundle.index;
    } else {
      const dir = await ensureIndexVariant(path.join(ROOT, spec.world.dir), paths.bundle, f, undefined, (m) => console.error(m));
      name = f;
      index = await VectorIndex.read(path.join(dir, 'index.faiss'));
    }
    for (const refine of refines) {
      if (refine > 0 && !/,SQfp16$/.test(name)) continue;
      indexes.push({ name: refine > 0 ? `${name} refine ${refine}` : name, index, refine });
    }
  }
  const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads: 1, clock: 'bundle', seedEvents: paths.events });
  const dim = bundle.manifest.embeddingDim;
  const tower = await UserTower.create(bundle.userTower, dim);
  const n = bundle.items.n;
  const allRows = Int32Array.from({ length: n }, (_, i) => i);
  const idsToRows = (ids: BigInt64Array | ArrayLike<bigint>): number[] => Array.from(ids as ArrayLike<bigint>, (id) => Number(id));

  // Warm users' embeddings and their exact top K.
  const queries: Float32Array[] = [];
  const exact: Set<number>[] = [];
  const now = engine.now();
  for (let u = 0; queries.length < nUsers && u < 10 * nUsers; u++) {
    const id = `user-${String((u * 37) % 10000).padStart(6, '0')}`;
    const emb = (await tower.embed(await engine.store.snapshot(id, now), engine.catalog, now)).embedding;
    if (!emb.some((v) => v !== 0)) continue; // cold user: no embedding, no search
    queries.push(emb);
    exact.push(new Set(topK(scoreRows(bundle.embeddings, dim, allRows, emb), K)));
  }
  console.error(`${queries.length} warm users; exact top ${K} computed`);

  const rows: Row[] = [];
  for (const nprobe of grid) {
    for (const { name, index, refine } of indexes) {
      const opts = { k: K, nprobe, ...(refine > 0 ? { refine } : {}) };
      index.searchSync(queries[0], opts); // a refined search's first call builds the 8-bit copy
      let hit = 0;
      let recallMin = 1;
      for (let q = 0; q < queries.length; q++) {
        const res = index.searchSync(queries[q], opts)!;
        let h = 0;
        for (const r of idsToRows(res.ids)) if (exact[q].has(r)) h++;
        hit += h;
        recallMin = Math.min(recallMin, h / K);
      }
      const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 10_000_000, numberOfSignificantValueDigits: 3 });
      let sum = 0;
      const c0 = process.cpuUsage();
      for (let r = 0; r < repeat; r++) {
        for (const q of queries) {
          const t0 = process.hrtime.bigint();
          index.searchSync(q, opts);
          const us = Number(process.hrtime.bigint() - t0) / 1000;
          hist.recordValue(Math.max(1, Math.round(us)));
          sum += us;
        }
      }
      const c = process.cpuUsage(c0);
      const calls = repeat * queries.length;
      const row: Row = {
        index: name,
        nprobe,
        recall: hit / (K * queries.length),
        recallMin,
        us: { p50: hist.getValueAtPercentile(50), p90: hist.getValueAtPercentile(90), p99: hist.getValueAtPercentile(99), mean: sum / calls },
        cpuUs: (c.user + c.system) / calls,
      };
      rows.push(row);
      console.error(`${name} nprobe ${nprobe}: recall@${K} ${row.recall.toFixed(4)} (min ${recallMin.toFixed(3)}), p50 ${row.us.p50} µs, p99 ${row.us.p99} µs`);
    }
  }
  await tower.close();
  await engine.close();

  const targets = indexes.map(({ name, index }) => {
    const hit = rows.find((r) => r.index === name && r.recall >= TARGET_RECALL) ?? null;
    return { index: name, kind: index.kind, recall: TARGET_RECALL, nprobe: hit?.nprobe ?? null, p50Us: hit?.us.p50 ?? null, p99Us: hit?.us.p99 ?? null, met: hit !== null && hit.us.p50 <= TARGET_US };
  });
  const result = {
    ...runMeta(ROOT, `node dist/bench/retrieval.js ${process.argv.slice(2).join(' ')}`.trim(), 'none (one thread)'),
    world: { items: n, dim, dir: spec.world.dir, manifestIndex: bundle.manifest.index },
    k: K,
    users: queries.length,
    repeat,
    rows,
    targets,
  };
  const lines = [
    `# W2 retrieval: recall@${K} and search time by index and nprobe (${n} items, d = ${dim})`,
    '',
    `${result.date} · commit \`${result.commit}\` · ${result.cpu} (${result.cores} cores) · Node ${process.version} · load avg ${result.loadavg1.toFixed(2)} · \`${result.command}\``,
    '',
    `Queries: the user-tower embeddings of ${queries.length} warm users of the W2 world. Recall@${K}: share of the exact top ${K} (inner product over all ${n} rows, float32) the index search returns. Time: one searchSync on this thread, ${repeat} passes over the queries; the indexes take turns at each nprobe. The world's bundle ships ${bundle.manifest.index.factory} at nprobe ${bundle.manifest.index.nprobe}.`,
    '',
    `| index | nprobe | recall@${K} | worst user | p50 µs | p90 µs | p99 µs | CPU µs/search |`,
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.index} | ${r.nprobe} | ${r.recall.toFixed(4)} | ${r.recallMin.toFixed(3)} | ${r.us.p50} | ${r.us.p90} | ${r.us.p99} | ${r.cpuUs.toFixed(0)} |`),
    '',
    `Smallest nprobe with recall@${K} ≥ ${TARGET_RECALL} (target: ≤ ${TARGET_US} µs at the median):`,
    '',
    ...targets.map((t) => (t.nprobe !== null ? `- ${t.index}: nprobe **${t.nprobe}**, p50 ${t.p50Us} µs, p99 ${t.p99Us} µs: ${t.met ? 'met' : 'not met'}.` : `- ${t.index}: no nprobe in the grid reached it.`)),
    '',
  ];
  const md = lines.join('\n');
  console.log(md);
  if (values.out) {
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, `${values.out}.json`), JSON.stringify(result, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `${values.out}.md`), md);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
