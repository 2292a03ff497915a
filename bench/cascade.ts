// The Rank cascade in-process, no gRPC: one call at a time (or a few in
// flight) against the engine, so the engine's own cost per call can be
// measured apart from transport and load generation.
//
//   node dist/bench/cascade.js [--workload w1|w2|w3] [--calls 2000] [--concurrency 1]
//        [--threads 2] [--scorer native|ort|ts] [--heavy-budget 0.2]
//        [--factory world|F] [--nprobe N] [--refine R] [--inline-max-flops N] [--sync-search-max-bytes N] [--events-every N]
//        [--ranker-precision auto|fp32|bf16|int8]
//        [--pause-ms N] [--user-store redis://...] [--out NAME] [--profile FILE.cpuprofile]
//
// Workloads (fixed, so numbers compare across commits):
//   w1  the demo world (100k items), default request: home, 20 results;
//   w2  the 1M-item world (d = 64; .data/bench-worlds/world-1000000, made by
//       bench/bundle-load.js or on first use), K = 1000, M = 200, heavy budget
//       20%, DCN-v2 ranker (3 cross, MLP 256-128, 4 heads), DPP N = 50; its
//       index IVF4096,SQfp16 at nprobe 192 (recall@1000 0.95 vs exact; built
//       once next to the world), searched in two passes (refine 1.25: an
//       8-bit first pass keeping 1250 candidates, re-scored from the fp16
//       codes; --refine 0 for one pass); --factory world searches the world's own
//       IVF4096,Flat at nprobe 512 instead, --factory F another index;
//   w3  re-rank mode on the demo world: 500 caller-supplied rows, N = 50.
// Baselines: --scorer ort|ts runs the DCN-v2 models through ONNX Runtime or
// plain TypeScript;
// --heavy-budget 1 sends all K candidates to the strong pre-ranker.
// Mixed traffic: --events-every 6 makes every sixth call a RecordEvents of
// one click (engine.recordEvents) instead of a Rank: one per five Rank calls.
// CPU per call is then per Rank call, the events' share included.
// Idle gaps: --pause-ms N makes each lane wait N ms after every call, as a
// server at a moderate rate idles between requests. The same calls then cost
// more CPU where the machine loses the process's cache contents (and the
// core's clock) while it idles; back-to-back runs measure the engine warm.
//
// Reports wall time per call (median/p99), CPU per call split into the main
// thread and every other thread of the process (pool workers, libuv threads
// running FAISS, V8 helpers; from /proc/self/task/*/stat), and the mean time
// of each stage from the engine's own stage histograms.
import { promises as fs, readFileSync, readdirSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';

import { RedisUserStore } from '../src/state/redis-user-store';
import * as hdr from 'hdr-histogram-js';

import { loadBundle } from '../src/bundle/loader';
import { Engine } from '../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../src/pipeline/options';
import type { RankInput } from '../src/pipeline/request';
import { ACTION } from '../src/models/schema';
import { createMetrics } from '../src/metrics/metrics';
import { DEFAULT_RANK } from '../src/pipeline/options';
import { isPrecisionSetting, PRECISION_SETTINGS } from '../src/native/dcn-precision';
import { ensureWorld } from '../tools/world/cache';
import type { ScorerBackend } from '../src/scoring/protocol';
import { mulberry32 } from '../src/util/random';
import { DEFAULT_WORLD, WorldConfig } from '../tools/world/schema';
import { ensureIndexVariant } from './index-variant';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');

type Workload = 'w1' | 'w2' | 'w3';

export interface WorkloadSpec {
  world: { dir: string; config: WorldConfig };
  /** The index the workload searches, when not the world's own (see bench/index-variant.ts). */
  index?: { factory: string; nprobe: number; refine?: number };
  numResults: number;
  rerank: number;
}

export const WORKLOADS: Record<Workload, WorkloadSpec> = {
  w1: { world: { dir: path.join('.data', 'demo-world'), config: DEFAULT_WORLD }, numResults: 20, rerank: 0 },
  // W2 searches the world's embeddings through IVF4096,SQfp16 at nprobe 192:
  // the smallest setting with recall@1000 >= 0.95 against exact search on
  // the world's own user queries (bench/retrieval.js: 0.954, where SQ8 needs
  // nprobe 224). The world's bundle itself has IVF4096,Flat at nprobe 512
  // (--factory world; the W2 of commits up to d5c8923). Two passes at refine
  // 1.25 return the one-pass recall at 0.65-0.8x its time
  // (bench/results/retrieval-w2-refine.md); written into the variant's
  // manifest (index.refine), so the server serves it too.
  w2: {
    world: { dir: path.join('.data', 'bench-worlds', 'world-1000000'), config: { ...DEFAULT_WORLD, items: 1_000_000, dim: 64 } },
    index: { factory: 'IVF4096,SQfp16', nprobe: 192, refine: 1.25 },
    numResults: 50,
    rerank: 0,
  },
  w3: { world: { dir: path.join('.data', 'demo-world'), config: DEFAULT_WORLD }, numResults: 50, rerank: 500 },
};

/**
 * The bundle a workload searches: the world's own, or (spec.index, or
 * --factory F) a variant of it with another index. --factory world forces
 * the world's own.
 */
export async function workloadBundle(spec: WorkloadSpec, worldBundle: string, factory?: string): Promise<string> {
  if (factory === 'world') return worldBundle;
  const idx = factory !== undefined ? { factory, nprobe: undefined } : spec.index;
  if (!idx) return worldBundle;
  return ensureIndexVariant(path.join(ROOT, spec.world.dir), worldBundle, idx.factory, idx.nprobe, (m) => console.error(m), 'refine' in idx ? idx.refine : undefined);
}

/** A /proc/self/status field in KiB. */
function vmKb(field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) : NaN;
}
const TICK_MS = 1000 / 100; // USER_HZ; Linux reports /proc CPU times in 1/100 s

/** CPU ms of the main thread and of all other threads of this process. */
export function threadCpuMs(): { main: number; others: number } {
  let main = 0;
  let others = 0;
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread exited between the listing and the read
    }
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ms = (Number(f[11]) + Number(f[12])) * TICK_MS;
    if (Number(tid) === process.pid) main += ms;
    else others += ms;
  }
  return { main, others };
}

interface StageMean {
  stage: string;
  meanMs: number;
  calls: number;
}

async function stageMeans(metrics: ReturnType<typeof createMetrics>): Promise<StageMean[]> {
  const text = await metrics.text();
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^ranking_stage_duration_seconds_(sum|count)\{stage="([^"]+)"\} (\S+)$/.exec(line);
    if (!m) continue;
    (m[1] === 'sum' ? sums : counts).set(m[2], Number(m[3]));
  }
  return [...counts].map(([stage, calls]) => ({ stage, calls, meanMs: ((sums.get(stage) ?? 0) / Math.max(1, calls)) * 1000 }));
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '2000' },
      warmup: { type: 'string', default: '200' },
      concurrency: { type: 'string', default: '1' },
      threads: { type: 'string', default: String(ENGINE_DEFAULTS.threads) },
      users: { type: 'string', default: '5000' },
      workload: { type: 'string', default: 'w1' },
      scorer: { type: 'string', default: 'native' },
      'heavy-budget': { type: 'string', default: String(DEFAULT_RANK.heavyBudget) },
      nprobe: { type: 'string' },
      refine: { type: 'string' },
      factory: { type: 'string' },
      'sync-search-max-bytes': { type: 'string', default: String(ENGINE_DEFAULTS.syncSearchMaxBytes) },
      'inline-max-flops': { type: 'string', default: String(ENGINE_DEFAULTS.inlineMaxFlops) },
      'inline-max-slices': { type: 'string', default: String(ENGINE_DEFAULTS.inlineMaxSlices) },
      'events-every': { type: 'string', default: '0' },
      'ranker-precision': { type: 'string', default: 'auto' },
      'pause-ms': { type: 'string', default: '0' },
      // redis://...: user state (and the new items' counts) in Redis, seeded from the world's events.
      'user-store': { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'string' },
    },
  });
  const calls = Number(values.calls);
  const warmup = Number(values.warmup);
  const concurrency = Number(values.concurrency);
  const threads = Number(values.threads);
  const users = Number(values.users);
  const inlineMaxFlops = Number(values['inline-max-flops']);
  const inlineMaxSlices = Number(values['inline-max-slices']);
  const eventsEvery = Number(values['events-every']);
  if (!Number.isInteger(eventsEvery) || eventsEvery === 1 || eventsEvery < 0) throw new Error('--events-every must be 0 (off) or an integer >= 2');
  const isEvent = (i: number): boolean => eventsEvery > 0 && i % eventsEvery === eventsEvery - 1;
  const pauseMs = Number(values['pause-ms']);
  if (!(pauseMs >= 0 && pauseMs <= 1000)) throw new Error('--pause-ms must be a number of milliseconds in [0, 1000]');

  const workload = values.workload as Workload;
  if (!(workload in WORKLOADS)) throw new Error(`--workload must be one of ${Object.keys(WORKLOADS).join(', ')}`);
  const scorer = values.scorer as ScorerBackend;
  if (!['native', 'ort', 'ts'].includes(scorer)) throw new Error('--scorer must be native, ort or ts');
  const heavyBudget = Number(values['heavy-budget']);
  const precision = values['ranker-precision'];
  if (!isPrecisionSetting(precision)) throw new Error(`--ranker-precision must be one of ${PRECISION_SETTINGS.join(', ')}`);
  const spec = WORKLOADS[workload];

  // --refine overrides the bundle's index.refine.
  const refine = values.refine !== undefined ? Number(values.refine) : undefined;
  if (refine !== undefined && !(refine === 0 || (refine >= 1 && refine <= 64))) throw new Error('--refine must be 0 or a number in [1, 64]');
  const searchOverrides =
    values.nprobe !== undefined || refine !== undefined
      ? { ...(values.nprobe !== undefined ? { nprobe: Number(values.nprobe) } : {}), ...(refine !== undefined ? { refine } : {}) }
      : undefined;
  const world = spec.world;
  const paths = await ensureWorld(path.join(ROOT, world.dir), world.config, (m) => console.error(m));
  const bundle = await loadBundle(await workloadBundle(spec, paths.bundle, values.factory));
  const metrics = createMetrics();
  const rssBeforeEngine = vmKb('VmRSS');
  const store = values['user-store'] ? await RedisUserStore.connect({ url: values['user-store'] }) : undefined;
  const engine = await Engine.create(bundle, {
    ...ENGINE_DEFAULTS,
    store,
    threads,
    inlineMaxFlops,
    inlineMaxSlices,
    syncSearchMaxBytes: Number(values['sync-search-max-bytes']),
    scorer,
    rankerPrecision: precision,
    search: searchOverrides,
    clock: 'bundle',
    seedEvents: paths.events,
    metrics,
  });
  const weights = Float32Array.from(bundle.manifest.objectives, (o) => bundle.manifest.defaultWeights.home[o] ?? 0);
  const n = bundle.items.n;
  const request = (i: number): RankInput => {
    const rng = mulberry32(i + 1);
    return {
      requestId: `b${i}`,
      userId: `user-${String(i % users).padStart(6, '0')}`,
      surface: 'home',
      device: 'mobile',
      recentActions: [],
      candidateRows: spec.rerank > 0 ? Int32Array.from({ length: spec.rerank }, () => Math.floor(rng() * n)) : undefined,
      numResults: spec.numResults,
      weights,
      options: { ...DEFAULT_RANK, heavyBudget, exclude: new Set(), seed: i + 1 },
      debug: false,
      deadline: Infinity,
    };
  };

  const run = async (n: number, offset: number, hist: hdr.Histogram | null): Promise<void> => {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < n) {
        const i = offset + next++;
        if (isEvent(i)) {
          const rng = mulberry32(i + 7);
          void engine.recordEvents([{ userId: `user-${String(i % users).padStart(6, '0')}`, row: Math.floor(rng() * bundle.items.n), action: ACTION.click, ts: engine.now() }]);
          continue;
        }
        const t0 = process.hrtime.bigint();
        await engine.rank(request(i));
        hist?.recordValue(Number(process.hrtime.bigint() - t0) / 1000);
        if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
  };

  await run(warmup, 0, null);
  const before = await stageMeans(metrics);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let session: Session | null = null;
  if (values.profile) {
    session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.start');
  }
  const cpu0 = threadCpuMs();
  const t0 = process.hrtime.bigint();
  await run(calls, warmup, hist);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu1 = threadCpuMs();
  if (session && values.profile) {
    const { profile } = await session.post('Profiler.stop');
    await fs.writeFile(values.profile, JSON.stringify(profile));
    session.disconnect();
  }
  let rankCalls = 0;
  for (let i = warmup; i < warmup + calls; i++) if (!isEvent(i)) rankCalls++;
  const after = await stageMeans(metrics);
  const rssAfter = vmKb('VmRSS');
  const peakRss = vmKb('VmHWM');
  await engine.close();
  await store?.close();

  const stages = after.map((a) => {
    const b = before.find((x) => x.stage === a.stage);
    const n = a.calls - (b?.calls ?? 0);
    const sum = a.meanMs * a.calls - (b ? b.meanMs * b.calls : 0);
    return { stage: a.stage, meanMs: n > 0 ? sum / n : 0, calls: n };
  });
  const result = {
    ...runMeta(ROOT, `node dist/bench/cascade.js ${process.argv.slice(2).join(' ')}`.trim(), 'none (in-process)'),
    workload,
    world: { items: bundle.items.n, dim: bundle.manifest.embeddingDim, dir: world.dir },
    scorer,
    heavyBudget,
    index: { ...bundle.manifest.index, nprobe: values.nprobe !== undefined ? Number(values.nprobe) : bundle.manifest.index.nprobe },
    models: { ranker: bundle.ranker.shape, preranker: bundle.preranker.shape },
    freshKeep: ENGINE_DEFAULTS.freshKeep,
    numResults: spec.numResults,
    rerank: spec.rerank,
    memory: { rssBeforeEngineMiB: rssBeforeEngine / 1024, rssAfterMiB: rssAfter / 1024, peakRssMiB: peakRss / 1024 },
    calls,
    concurrency,
    threads,
    inlineMaxFlops,
    inlineMaxSlices,
    eventsEvery,
    pauseMs,
    rankCalls,
    callsPerSecond: rankCalls / wallS,
    wallUs: { p50: hist.getValueAtPercentile(50), p90: hist.getValueAtPercentile(90), p99: hist.getValueAtPercentile(99), max: hist.maxValue },
    cpuUsPerCall: { main: ((cpu1.main - cpu0.main) * 1000) / rankCalls, others: ((cpu1.others - cpu0.others) * 1000) / rankCalls },
    stages,
  };
  const lines = [
    `# Rank cascade in-process: ${workload} (${bundle.items.n} items, d = ${bundle.manifest.embeddingDim})`,
    '',
    `${result.date} · commit \`${result.commit}\` · ${result.cpu} (${result.cores} cores) · Node ${process.version} · load avg ${os.loadavg()[0].toFixed(2)} · \`${result.command}\``,
    '',
    `${spec.rerank > 0 ? `Re-rank of ${spec.rerank} given rows` : `K = ${DEFAULT_RANK.retrievalK}`}, M = ${DEFAULT_RANK.prerankKeep}, heavy budget ${heavyBudget * 100}%, ${DEFAULT_RANK.diversity}, ${spec.numResults} results; scorer ${scorer}; ${eventsEvery > 0 ? `${rankCalls} Rank + ${calls - rankCalls} RecordEvents calls (one click each; CPU per Rank call includes them)` : `${calls} calls`} after ${warmup} warm-up, ${concurrency} in flight${pauseMs > 0 ? `, each lane idle ${pauseMs} ms after every call` : ''}, ${threads} pool workers, batches up to ${inlineMaxFlops / 1e6} MFLOP scored inline (up to ${inlineMaxSlices} such slices while idle), no transport. RSS peak ${(peakRss / 1024).toFixed(0)} MiB.`,
    '',
    '| calls/s | wall p50 µs | p90 µs | p99 µs | main-thread CPU µs/call | other threads CPU µs/call |',
    '|---:|---:|---:|---:|---:|---:|',
    `| ${result.callsPerSecond.toFixed(0)} | ${result.wallUs.p50} | ${result.wallUs.p90} | ${result.wallUs.p99} | ${result.cpuUsPerCall.main.toFixed(0)} | ${result.cpuUsPerCall.others.toFixed(0)} |`,
    '',
    '| stage | mean ms (wall, incl. waits) |',
    '|---|---:|',
    ...stages.map((s) => `| ${s.stage} | ${s.meanMs.toFixed(3)} |`),
    '',
    'CPU from /proc/self/task/*/stat (10 ms ticks, summed over the run). "Other threads" are the scoring pool workers, the libuv threads that run FAISS searches and V8 helper threads.',
  ];
  console.log(lines.join('\n'));
  if (values.out) {
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, `cascade-${values.out}.json`), JSON.stringify(result, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `cascade-${values.out}.md`), lines.join('\n') + '\n');
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
