// The benchmark suite's in-process part: the cascade on the fixed workloads
// and its baselines, each in its own process (bench/cascade.js), next to this
// machine's limits measured in the same run, with a floor per stage.
//
//   npm run build && node dist/bench/suite.js [--quick] [--skip-1m]
//
// Writes bench/results/suite.{json,md} (and each run's cascade-*.json);
// `node dist/bench/summarize.js` folds them into BENCHMARKS.md.
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { flopsPerRow } from '../src/scoring/scorer';
import type { DcnShape } from '../src/native/dcn';
import { MachineLimits, measureLimits } from './limits';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');

export interface CascadeResult {
  workload: string;
  world: { items: number; dim: number };
  scorer: string;
  heavyBudget: number;
  index: { factory: string; nprobe?: number };
  models: { ranker: DcnShape; preranker: DcnShape };
  freshKeep: number;
  numResults: number;
  rerank: number;
  concurrency: number;
  threads: number;
  calls: number;
  callsPerSecond: number;
  wallUs: { p50: number; p90: number; p99: number; max: number };
  cpuUsPerCall: { main: number; others: number };
  memory: { rssBeforeEngineMiB: number; rssAfterMiB: number; peakRssMiB: number };
  stages: { stage: string; meanMs: number; calls: number }[];
}

interface RunSpec {
  name: string;
  what: string;
  args: string[];
  needs1m?: boolean;
  /** Extra environment for the run. */
  env?: Record<string, string>;
}

export function runSpecs(quick: boolean): RunSpec[] {
  const c = (n: number) => String(quick ? Math.max(50, Math.round(n / 10)) : n);
  return [
    { name: 'w1', what: 'W1, the engine as configured by default', args: ['--workload', 'w1', '--calls', c(3000)] },
    { name: 'w1-pool', what: 'W1, every scoring batch through the worker pool', args: ['--workload', 'w1', '--inline-max-flops', '0', '--calls', c(3000)] },
    { name: 'w1-ort', what: 'W1, DCN-v2 through onnxruntime-node', args: ['--workload', 'w1', '--scorer', 'ort', '--calls', c(2000)] },
    { name: 'w1-ts', what: 'W1, DCN-v2 in plain TypeScript', args: ['--workload', 'w1', '--scorer', 'ts', '--calls', c(150), '--warmup', '20'] },
    { name: 'w1-heavy-all', what: 'W1, strong pre-ranker on all K (heavy budget 100%)', args: ['--workload', 'w1', '--heavy-budget', '1', '--calls', c(2000)] },
    { name: 'w1-idle10', what: 'W1 with each call followed by 10 ms of idle (as a server at a moderate rate)', args: ['--workload', 'w1', '--pause-ms', '10', '--calls', c(1500)] },
    { name: 'w1-c4', what: 'W1, 4 in flight, default', args: ['--workload', 'w1', '--concurrency', '4', '--calls', c(3000)] },
    { name: 'w1-c4-pool', what: 'W1, 4 in flight, pool (2 workers)', args: ['--workload', 'w1', '--concurrency', '4', '--inline-max-flops', '0', '--calls', c(3000)] },
    { name: 'w1-c4-pool-1worker', what: 'W1, 4 in flight, pool with 1 worker', args: ['--workload', 'w1', '--concurrency', '4', '--inline-max-flops', '0', '--threads', '1', '--calls', c(3000)] },
    { name: 'w3', what: 'W3, re-rank 500 given rows, N = 50', args: ['--workload', 'w3', '--calls', c(3000)] },
    { name: 'w2', what: 'W2, 1M items (IVF4096,SQfp16, nprobe 192), N = 50', args: ['--workload', 'w2', '--calls', c(1500)], needs1m: true },
    { name: 'w2-flat512', what: "W2 on the world's own IVF4096,Flat at nprobe 512 (the W2 of commits up to d5c8923)", args: ['--workload', 'w2', '--factory', 'world', '--calls', c(1000)], needs1m: true },
    { name: 'w2-4k-pages', what: 'W2 with the catalog columns on 4 KiB pages (RANK_HUGE_PAGES=0; the default advises huge pages)', args: ['--workload', 'w2', '--calls', c(1500)], needs1m: true, env: { RANK_HUGE_PAGES: '0' } },
    { name: 'w2-mixed', what: 'W2 mixed: one RecordEvents call (one click) per five Rank calls', args: ['--workload', 'w2', '--events-every', '6', '--calls', c(1800)], needs1m: true },
  ];
}

/** Bytes per vector component an index stores: 2 for SQfp16, 1 for SQ8, 4 (float) otherwise. */
export function codeBytesPerDim(factory: string): number {
  if (/(^|,)SQfp16(,|$)/.test(factory)) return 2;
  if (/(^|,)SQ8(,|$)/.test(factory)) return 1;
  return 4;
}

/** Lower bound of each stage's time on this machine, ms (see the suite's markdown for the model). */
export function stageFloors(r: CascadeResult, lim: MachineLimits): Record<string, number> {
  // Bytes/s: runs written before these rates were measured fall back to the copy rate.
  const blocks = (lim.blockReadGBps ?? lim.copyGBps) * 1e9;
  const rows = (lim.rowReadGBps ?? lim.copyGBps) * 1e9;
  const flops = lim.sgemmGflops * 1e9;
  const d = r.world.dim;
  const K = r.rerank > 0 ? r.rerank : 1000;
  const M = 200;
  const out: Record<string, number> = {};
  if (r.rerank === 0) {
    const nlist = Number(/IVF(\d+)/.exec(r.index.factory)?.[1] ?? NaN);
    const scanned = Number.isFinite(nlist) ? ((r.index.nprobe ?? 1) / nlist) * r.world.items : r.world.items;
    // The scanned codes at their stored size, plus the float centroids.
    out.retrieval = (((scanned * codeBytesPerDim(r.index.factory) + (nlist || 0) * 4) * d) / blocks) * 1e3;
  }
  out.prerank = ((K * d * 4) / rows + (r.heavyBudget * K * flopsPerRow(r.models.preranker)) / flops) * 1e3;
  out.rank = (((M + (r.rerank === 0 ? r.freshKeep : 0)) * flopsPerRow(r.models.ranker)) / flops) * 1e3;
  out.policy = ((2 * r.numResults * (M + r.freshKeep) * d) / flops) * 1e3;
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, 'skip-1m': { type: 'boolean', default: false } } });
  const quick = values.quick!;
  const have1m = existsSync(path.join(ROOT, '.data', 'bench-worlds', 'world-1000000', 'bundle', 'manifest.json'));
  const meta = runMeta(ROOT, `node dist/bench/suite.js ${process.argv.slice(2).join(' ')}`.trim(), 'none (each run in its own process, all threads free to use both cores)');
  process.stderr.write('machine limits...\n');
  const limits = measureLimits();
  const runs: { name: string; what: string; result: CascadeResult; floors: Record<string, number> }[] = [];
  for (const spec of runSpecs(quick)) {
    if (spec.needs1m && (values['skip-1m'] || (!have1m && quick))) continue;
    process.stderr.write(`${spec.name}: ${spec.what}...\n`);
    execFileSync(process.execPath, [path.join(__dirname, 'cascade.js'), ...spec.args, '--out', spec.name], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...spec.env } });
    const result = JSON.parse(await fs.readFile(path.join(RESULTS, `cascade-${spec.name}.json`), 'utf8')) as CascadeResult;
    runs.push({ name: spec.name, what: spec.what, result, floors: stageFloors(result, limits) });
  }
  const suite = { ...meta, quick, limits, runs };
  await fs.writeFile(path.join(RESULTS, 'suite.json'), JSON.stringify(suite, null, 2) + '\n');
  process.stderr.write(`wrote bench/results/suite.json\n`);
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
