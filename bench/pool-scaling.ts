// Throughput of the scoring pool alone, 1 worker vs 2: the ranker's batches
// of one W2 request (250 rows: M = 200 plus 50 fresh) kept queued from the
// main thread, which does nothing else, so the workers are the bottleneck.
// The "2 pool workers >= 1.7x of 1 worker" is a property of the
// pool; the in-process cascade (bench/suite.js w1-c4-pool vs -1worker)
// cannot show it on 2 cores, because the main thread (retrieval, policy,
// JS) shares the cores with the workers there.
//
//   node dist/bench/pool-scaling.js [--workload w1|w2] [--seconds 6] [--out pool-scaling]
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { loadBundle } from '../src/bundle/loader';
import { Engine } from '../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../src/pipeline/options';
import { featureLayout } from '../src/models/layout';
import { ensureWorld } from '../tools/world/cache';
import { mulberry32 } from '../src/util/random';
import { WORKLOADS, threadCpuMs, workloadBundle } from './cascade';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { workload: { type: 'string', default: 'w2' }, seconds: { type: 'string', default: '6' }, rows: { type: 'string', default: '250' }, out: { type: 'string' } } });
  const workload = values.workload as 'w1' | 'w2';
  const spec = WORKLOADS[workload];
  const seconds = Number(values.seconds);
  const B = Number(values.rows);
  const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => console.error(m));
  const bundle = await loadBundle(await workloadBundle(spec, paths.bundle));
  const Du = featureLayout(bundle.manifest.embeddingDim).userDim;
  const rng = mulberry32(5);
  const user = Float32Array.from({ length: Du }, () => rng() - 0.5);
  const batches = Array.from({ length: 64 }, () => Int32Array.from({ length: B }, () => Math.floor(rng() * bundle.items.n)));
  const runs: { threads: number; batchesPerSecond: number; rowsPerSecond: number; cpuMsPerBatch: { main: number; others: number } }[] = [];
  for (const threads of [1, 2, 1, 2]) {
    // inlineMaxFlops 0: every batch goes to a worker, one request per task.
    const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads, inlineMaxFlops: 0, clock: 'bundle' });
    const now = engine.now();
    const inFlight = 4 * threads;
    const run = async (ms: number): Promise<number> => {
      const end = Date.now() + ms;
      let done = 0;
      const lane = async (k: number): Promise<void> => {
        for (let i = k; Date.now() < end; i += inFlight) {
          await engine.pool.score('ranker', user, batches[i % batches.length], now);
          done++;
        }
      };
      await Promise.all(Array.from({ length: inFlight }, (_, k) => lane(k)));
      return done;
    };
    await run(1000);
    const c0 = threadCpuMs();
    const t0 = process.hrtime.bigint();
    const n = await run(seconds * 1000);
    const wall = Number(process.hrtime.bigint() - t0) / 1e9;
    const c1 = threadCpuMs();
    await engine.close();
    const r = { threads, batchesPerSecond: n / wall, rowsPerSecond: (n * B) / wall, cpuMsPerBatch: { main: (c1.main - c0.main) / n, others: (c1.others - c0.others) / n } };
    runs.push(r);
    console.error(`${threads} worker(s): ${r.batchesPerSecond.toFixed(0)} batches/s of ${B} rows; CPU per batch main ${r.cpuMsPerBatch.main.toFixed(3)} ms, others ${r.cpuMsPerBatch.others.toFixed(3)} ms`);
  }
  const best = (t: number) => Math.max(...runs.filter((r) => r.threads === t).map((r) => r.batchesPerSecond));
  const speedup = best(2) / best(1);
  const meta = runMeta(ROOT, `node dist/bench/pool-scaling.js ${process.argv.slice(2).join(' ')}`.trim(), 'none (main thread and workers share both cores)');
  const result = { ...meta, workload, rowsPerBatch: B, model: bundle.ranker.shape, runs, speedup };
  const md = [
    `# Scoring pool: 1 worker vs 2 (${workload} ranker, ${B} rows per batch)`,
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${meta.cores} cores) · Node ${meta.node} · \`${meta.command}\``,
    '',
    `Batches kept queued (4 per worker) from a main thread that does nothing else; ${seconds} s per run after 1 s of warm-up; runs alternate 1, 2, 1, 2 workers and the best of each is compared.`,
    '',
    '| workers | batches/s | rows/s | main-thread CPU ms/batch | worker + other CPU ms/batch |',
    '|---:|---:|---:|---:|---:|',
    ...runs.map((r) => `| ${r.threads} | ${r.batchesPerSecond.toFixed(0)} | ${r.rowsPerSecond.toFixed(0)} | ${r.cpuMsPerBatch.main.toFixed(3)} | ${r.cpuMsPerBatch.others.toFixed(3)} |`),
    '',
    `2 workers / 1 worker: **${speedup.toFixed(2)}x**.`,
    '',
  ].join('\n');
  console.log(md);
  if (values.out) {
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.writeFile(path.join(dir, `${values.out}.json`), JSON.stringify(result, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `${values.out}.md`), md);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
