// Retrieval for several interests against one search at the same K: the
// cascade searches every interest of a user in one call, each for its part
// of K (splitK) at an nprobe scaled by that part (interestNprobes), where a
// single-vector user costs one search for K; all at the full nprobe is
// measured too, and each variant's recall against exact search. Measured on
// the calling thread (searchSync, no thread hop), interleaved rounds, with
// the workload's index and search settings; the queries are catalog vectors
// of different categories (an interest vector lies among its items). Writes
// bench/results/<out>.{json,md}.
//
//   node dist/bench/interest-search.js [--workload w1|w2] [--rounds 5] [--out interest-search-w1]
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { loadBundle } from '../src/bundle/loader';
import { interestNprobes, splitK } from '../src/models/interests';
import { scoreRows, topK } from '../src/native';
import type { SearchOptions } from '../src/native';
import { ensureWorld } from '../tools/world/cache';
import { timeInterleaved } from './bench-util';
import type { Timing } from './bench-util';
import { WORKLOADS, workloadBundle } from './cascade';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');
const K = 1000;
/** Interest shares of the multi-interest cases. */
const CASES: { name: string; shares: number[] }[] = [
  { name: '1 interest', shares: [1] },
  { name: '2 interests (0.6 / 0.4)', shares: [0.6, 0.4] },
  { name: '3 interests (0.5 / 0.3 / 0.2)', shares: [0.5, 0.3, 0.2] },
];

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workload: { type: 'string', default: 'w1' }, rounds: { type: 'string', default: '5' }, out: { type: 'string' } } });
  const workload = values.workload as keyof typeof WORKLOADS;
  const spec = WORKLOADS[workload];
  if (!spec) throw new Error(`--workload must be one of ${Object.keys(WORKLOADS).join(', ')}`);
  const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => console.error(m));
  const bundle = await loadBundle(await workloadBundle(spec, paths.bundle), { progress: false });
  const d = bundle.manifest.embeddingDim;
  const idx = bundle.manifest.index;
  const search: Omit<SearchOptions, 'k'> = { nprobe: idx.nprobe, efSearch: idx.efSearch, refine: idx.refine, unique: true };
  // Query vectors: the first item of each of 64 categories' worth of rows, spread over the catalog.
  const cat = bundle.items.category;
  const seen = new Set<number>();
  const picks: number[] = [];
  for (let r = 0; r < bundle.items.n && picks.length < 48; r += 97) if (!seen.has(cat[r])) (seen.add(cat[r]), picks.push(r));
  for (let r = 0; picks.length < 48; r += 7919) picks.push(r % bundle.items.n);
  const vec = (r: number) => bundle.embeddings.subarray(r * d, (r + 1) * d);
  let at = 0;
  const queriesOf = (n: number): Float32Array => {
    const q = new Float32Array(n * d);
    for (let i = 0; i < n; i++) q.set(vec(picks[(at + i) % picks.length]), i * d);
    at = (at + n) % picks.length;
    return q;
  };
  // Each case as the cascade runs it: each query's nprobe scaled by its k / K (interestNprobes), and all at the full nprobe.
  const variants = CASES.flatMap((c) => {
    const ks = splitK(K, Float32Array.from(c.shares));
    const k = Math.max(...ks);
    const scaled = interestNprobes(idx.nprobe, ks, K);
    return (c.shares.length === 1 ? [idx.nprobe] : [scaled, idx.nprobe]).map((nprobe) => ({ c, ks, k, nprobe }));
  });
  const calls = variants.map((v) => () => {
    const hits = bundle.index.searchSync(queriesOf(v.c.shares.length), { ...search, nprobe: v.nprobe, k: v.ks });
    if (hits === null) throw new Error('the index is busy');
    return hits;
  });
  const timings: Timing[] = await timeInterleaved(calls, { rounds: Number(values.rounds), budgetMs: 4000 });
  // Recall of each interest's ks[q] results against the exact top ks[q] of its query.
  const recallOf = (v: (typeof variants)[number]): number => {
    let sum = 0;
    let n = 0;
    for (let t = 0; t < 16; t++) {
      const q = queriesOf(v.c.shares.length);
      const hits = bundle.index.searchSync(q, { ...search, nprobe: v.nprobe, k: v.ks })!;
      for (let j = 0; j < v.ks.length; j++) {
        const exact = new Set(topK(scoreRows(bundle.embeddings, d, allRows, q.subarray(j * d, (j + 1) * d)), v.ks[j]));
        let hit = 0;
        for (let i = 0; i < v.ks[j]; i++) if (exact.has(Number(hits.ids[j * v.k + i]))) hit++;
        sum += hit / v.ks[j];
        n++;
      }
    }
    return sum / n;
  };
  const allRows = Int32Array.from({ length: bundle.items.n }, (_, i) => i);
  const meta = runMeta(ROOT, `node dist/bench/interest-search.js ${process.argv.slice(2).join(' ')}`.trim(), 'none');
  const rows = variants.map((v, i) => ({
    case: v.c.name,
    ks: v.ks,
    nprobe: v.nprobe instanceof Int32Array ? Array.from(v.nprobe) : v.nprobe,
    medianUs: timings[i].medianUs,
    p99Us: timings[i].p99Us,
    ratio: timings[i].medianUs / timings[0].medianUs,
    recall: recallOf(v),
  }));
  const md = [
    `# Retrieval for several interests vs one search (${workload}, K = ${K})`,
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${meta.cores} cores) · Node ${process.version} · load avg ${meta.loadavg1.toFixed(2)} · \`${meta.command}\``,
    '',
    `Index ${idx.factory}${idx.nprobe ? `, nprobe ${idx.nprobe}` : ''}${idx.refine ? `, refine ${idx.refine}` : ''}, ${bundle.items.n} x ${d}; one searchSync call per request (every interest's query, each for its part of K).`,
    '',
    'Recall: of each interest\'s results, the share among the exact top k of its query (16 requests).',
    '',
    '| case | k per interest | nprobe | median µs | p99 µs | vs one search | recall |',
    '|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => `| ${r.case} | ${Array.from(r.ks).join(' / ')} | ${Array.isArray(r.nprobe) ? r.nprobe.join(' / ') : (r.nprobe ?? '–')} | ${r.medianUs.toFixed(0)} | ${r.p99Us.toFixed(0)} | ${r.ratio.toFixed(2)}x | ${r.recall.toFixed(3)} |`),
    '',
  ].join('\n');
  const out = values.out ?? `interest-search-${workload}`;
  const dir = path.join(ROOT, 'bench', 'results');
  await fs.writeFile(path.join(dir, `${out}.json`), JSON.stringify({ ...meta, workload, index: idx, rows }, null, 2) + '\n');
  await fs.writeFile(path.join(dir, `${out}.md`), md);
  console.log(md);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
