// W2 retrieval alone, on the W2 world's own index and queries: for each
// nprobe, recall@1000 of the index search against the exact top 1000 (inner
// product over every row) and the time of one search on the calling thread
// (searchSync, as the cascade runs it when the scan is small, and as the
// pool's libuv thread runs it otherwise). The queries are the user
// embeddings the engine computes (the bundle's user tower over each warm
// user's stored actions), so recall is that of real requests, not of
// synthetic vectors. Reports the smallest nprobe with recall@1000 >= 0.95 and
// its latency: the retrieval target.
//
//   node dist/bench/retrieval.js [--users 200] [--nprobe 64,96,128,...] [--repeat 5] [--bundle DIR] [--out retrieval-w2]
//
// --bundle searches another bundle of the same world (the same items and
// users; e.g. its index rebuilt with `bundle build-index DIR --factory ...`).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as hdr from 'hdr-histogram-js';

import { loadBundle } from '../src/bundle/loader';
import { Engine, ENGINE_DEFAULTS } from '../src/engine/engine';
import { UserTower } from '../src/engine/user-tower';
import { scoreRows, topK } from '../src/native';
import { ensureWorld } from '../src/world/cache';
import { WORKLOADS } from './cascade';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');
const K = 1000;
const TARGET_RECALL = 0.95;

interface Row {
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
      bundle: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const nUsers = Number(values.users);
  const repeat = Number(values.repeat);
  const grid = values.nprobe!.split(',').map(Number);
  const spec = WORKLOADS.w2;
  const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => console.error(m));
  const bundle = await loadBundle(values.bundle ?? paths.bundle, { progress: false });
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
    const emb = (await tower.embed(engine.store.snapshot(id, now), engine.catalog, now)).embedding;
    if (!emb.some((v) => v !== 0)) continue; // cold user: no embedding, no search
    queries.push(emb);
    exact.push(new Set(topK(scoreRows(bundle.embeddings, dim, allRows, emb), K)));
  }
  console.error(`${queries.length} warm users; exact top ${K} computed`);

  const rows: Row[] = [];
  for (const nprobe of grid) {
    const opts = { k: K, nprobe };
    let hit = 0;
    let recallMin = 1;
    for (let q = 0; q < queries.length; q++) {
      const res = bundle.index.searchSync(queries[q], opts)!;
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
        bundle.index.searchSync(q, opts);
        const us = Number(process.hrtime.bigint() - t0) / 1000;
        hist.recordValue(Math.max(1, Math.round(us)));
        sum += us;
      }
    }
    const c = process.cpuUsage(c0);
    const calls = repeat * queries.length;
    const row: Row = {
      nprobe,
      recall: hit / (K * queries.length),
      recallMin,
      us: { p50: hist.getValueAtPercentile(50), p90: hist.getValueAtPercentile(90), p99: hist.getValueAtPercentile(99), mean: sum / calls },
      cpuUs: (c.user + c.system) / calls,
    };
    rows.push(row);
    console.error(`nprobe ${nprobe}: recall@${K} ${row.recall.toFixed(4)} (min ${recallMin.toFixed(3)}), p50 ${row.us.p50} µs, p99 ${row.us.p99} µs`);
  }
  await tower.close();
  await engine.close();

  const target = rows.find((r) => r.recall >= TARGET_RECALL) ?? null;
  const result = {
    ...runMeta(ROOT, `node dist/bench/retrieval.js ${process.argv.slice(2).join(' ')}`.trim(), 'none (one thread)'),
    world: { items: n, dim, dir: spec.world.dir },
    index: { factory: bundle.manifest.index.factory, kind: bundle.index.kind, bundle: values.bundle ?? paths.bundle, manifestNprobe: bundle.manifest.index.nprobe ?? null },
    k: K,
    users: queries.length,
    repeat,
    rows,
    target: { recall: TARGET_RECALL, nprobe: target?.nprobe ?? null, p50Us: target?.us.p50 ?? null, p99Us: target?.us.p99 ?? null, met: target !== null && target.us.p50 <= 1000 },
  };
  const lines = [
    `# W2 retrieval: recall@${K} and search time by nprobe (${n} items, d = ${dim}, ${bundle.manifest.index.factory})`,
    '',
    `${result.date} · commit \`${result.commit}\` · ${result.cpu} (${result.cores} cores) · Node ${process.version} · load avg ${result.loadavg1.toFixed(2)} · \`${result.command}\``,
    '',
    `Queries: the user-tower embeddings of ${queries.length} warm users of the W2 world. Recall@${K}: share of the exact top ${K} (inner product over all ${n} rows) the index search returns. Time: one searchSync on this thread, ${repeat} passes over the queries.`,
    '',
    `| nprobe | recall@${K} | worst user | p50 µs | p90 µs | p99 µs | CPU µs/search |`,
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.nprobe}${r.nprobe === bundle.manifest.index.nprobe ? ' (manifest)' : ''} | ${r.recall.toFixed(4)} | ${r.recallMin.toFixed(3)} | ${r.us.p50} | ${r.us.p90} | ${r.us.p99} | ${r.cpuUs.toFixed(0)} |`),
    '',
    target
      ? `Smallest nprobe with recall@${K} ≥ ${TARGET_RECALL}: **${target.nprobe}**, p50 ${target.us.p50} µs, p99 ${target.us.p99} µs (target ≤ 1000 µs: ${result.target.met ? 'met' : 'not met'}).`
      : `No nprobe in the grid reached recall@${K} ≥ ${TARGET_RECALL}.`,
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
