// Folds bench/results/*.json into BENCHMARKS.md: the in-process suite with
// its baselines and per-stage floors, the open-loop gRPC sweep, the soak, the
// native kernels and the bundle load, each with the command, date, commit
// and CPU it came from. Numbers are copied from the result files, never typed.
//
//   node dist/bench/summarize.js
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';

import type { CascadeResult } from './suite';
import type { MachineLimits } from './limits';

const ROOT = path.join(__dirname, '..', '..');
const RESULTS = path.join(ROOT, 'bench', 'results');

interface Meta {
  date: string;
  commit: string;
  cpu: string;
  cores?: number;
  node?: string;
  command?: string;
  pinning?: string;
  loadavg1?: number;
}

interface Suite extends Meta {
  limits: MachineLimits;
  runs: { name: string; what: string; result: CascadeResult; floors: Record<string, number> }[];
}

async function read<T>(name: string): Promise<T | null> {
  const f = path.join(RESULTS, name);
  return existsSync(f) ? (JSON.parse(await fs.readFile(f, 'utf8')) as T) : null;
}

const f = (x: number | undefined | null, d = 2): string => (x === undefined || x === null || !Number.isFinite(x) ? '–' : x.toFixed(d));
const origin = (m: Meta): string =>
  `${m.date.slice(0, 10)} · commit \`${m.commit}\` · ${m.cpu}${m.cores ? ` (${m.cores} cores)` : ''}${m.pinning ? ` · ${m.pinning}` : ''}${m.loadavg1 !== undefined ? ` · load avg ${f(m.loadavg1)}` : ''}${m.command ? ` · \`${m.command}\`` : ''}`;

function suiteSection(s: Suite): string[] {
  const by = new Map(s.runs.map((r) => [r.name, r.result]));
  const total = (r?: CascadeResult) => (r ? r.cpuUsPerCall.main + r.cpuUsPerCall.others : NaN);
  const out = [
    '## The cascade in-process (no transport)',
    '',
    origin(s),
    '',
    `Machine limits measured in the same run: single-thread sgemm **${f(s.limits.sgemmGflops, 1)} GFLOP/s** (best call ${f(s.limits.sgemmBestGflops, 1)}), memory copy **${f(s.limits.copyGBps, 1)} GB/s** (read + write, 256 MiB)${s.limits.blockReadGBps !== undefined ? `; one thread reads **${f(s.limits.blockReadGBps, 1)} GB/s** in 32 KiB blocks at random offsets (as a search reads inverted lists) and **${f(s.limits.rowReadGBps, 1)} GB/s** in single 256-byte rows at random (as a candidate gather does)` : ''}.`,
    '',
    'Each run is its own process (`bench/cascade.js`): calls one after another (or 4 in flight), CPU per call from `/proc/self/task/*/stat` split into the main thread and all others (scoring workers, libuv threads running FAISS, V8 helpers).',
    '',
    '| run | what | calls/s | wall p50 ms | p99 ms | main-thread CPU µs/call | other threads µs/call | total CPU µs/call | peak RSS MiB |',
    '|---|---|---:|---:|---:|---:|---:|---:|---:|',
    ...s.runs.map(
      ({ name, what, result: r }) =>
        `| ${name} | ${what} | ${f(r.callsPerSecond, 0)} | ${f(r.wallUs.p50 / 1000)} | ${f(r.wallUs.p99 / 1000)} | ${f(r.cpuUsPerCall.main, 0)} | ${f(r.cpuUsPerCall.others, 0)} | ${f(total(r), 0)} | ${f(r.memory.peakRssMiB, 0)} |`,
    ),
    '',
    '### Baselines in the same run',
    '',
  ];
  const w1 = by.get('w1');
  const cmp: string[] = [];
  const ortRun = by.get('w1-ort');
  const rankMs = (r?: CascadeResult) => r?.stages.find((x) => x.stage === 'rank')?.meanMs;
  if (w1 && ortRun) cmp.push(`- Scoring through onnxruntime-node instead of the native DCN-v2: total CPU ${f(total(ortRun), 0)} vs ${f(total(w1), 0)} µs per call (ORT / native = ${f(total(ortRun) / total(w1))}), rank stage ${f(rankMs(ortRun), 3)} vs ${f(rankMs(w1), 3)} ms, p50 ${f(ortRun.wallUs.p50 / 1000)} vs ${f(w1.wallUs.p50 / 1000)} ms.`);
  if (w1 && by.get('w1-ts')) cmp.push(`- Scoring in plain TypeScript (the rest of the cascade still native): total CPU ${f(total(by.get('w1-ts')), 0)} µs per call, ${f(total(by.get('w1-ts')) / total(w1), 1)}x the native engine.`);
  const pool = by.get('w1-pool');
  if (w1 && pool) cmp.push(`- Scoring inline (default: batches up to the inline FLOP bound run on the calling thread) vs every batch through the worker pool: total CPU ${f(total(w1), 0)} vs ${f(total(pool), 0)} µs per call (main thread ${f(w1.cpuUsPerCall.main, 0)} vs ${f(pool.cpuUsPerCall.main, 0)}), p50 ${f(w1.wallUs.p50 / 1000)} vs ${f(pool.wallUs.p50 / 1000)} ms.`);
  const c4 = by.get('w1-c4');
  const c4p = by.get('w1-c4-pool');
  const one = by.get('w1-c4-pool-1worker');
  if (c4 && c4p) cmp.push(`- 4 requests in flight: default ${f(c4.callsPerSecond, 0)} calls/s (total CPU ${f(total(c4), 0)} µs per call), through the pool ${f(c4p.callsPerSecond, 0)} calls/s (${f(total(c4p), 0)} µs per call).`);
  if (c4p && one) cmp.push(`- Pool workers, 4 in flight: 2 workers ${f(c4p.callsPerSecond, 0)} calls/s, 1 worker ${f(one.callsPerSecond, 0)} calls/s (${f(c4p.callsPerSecond / one.callsPerSecond)}x). The main thread, the libuv threads and the workers share the same 2 cores, and the main thread is the busiest thread, so this is not the scaling of the pool alone.`);
  const all = by.get('w1-heavy-all');
  const pre = (r?: CascadeResult) => r?.stages.find((x) => x.stage === 'prerank')?.meanMs;
  if (w1 && all) cmp.push(`- HAP at 20% vs the strong pre-ranker on all K: pre-rank stage ${f(pre(w1), 3)} vs ${f(pre(all), 3)} ms (${f((pre(w1) ?? NaN) / (pre(all) ?? NaN))}x); total CPU ${f(total(w1), 0)} vs ${f(total(all), 0)} µs per call. Quality at each budget: docs/quality/.`);
  const w2 = by.get('w2');
  const small = by.get('w2-4k-pages');
  if (w2 && small) cmp.push(`- W2 with the catalog's columns on huge pages (default) vs 4 KiB pages (\`RANK_HUGE_PAGES=0\`): total CPU ${f(total(w2), 0)} vs ${f(total(small), 0)} µs per call (main thread ${f(w2.cpuUsPerCall.main, 0)} vs ${f(small.cpuUsPerCall.main, 0)}), p50 ${f(w2.wallUs.p50 / 1000)} vs ${f(small.wallUs.p50 / 1000)} ms; one pair of runs, so within this machine's 10-30% run-to-run noise (the component effect: \`node dist/bench/score-rows.js\`).`);
  out.push(...(cmp.length ? cmp : ['(no baseline runs in this file)']), '');
  out.push(
    '### Per stage: achieved vs the floor',
    '',
    'Floor model (lower bounds on this machine, from the limits above): retrieval = bytes of the inverted lists scanned (nprobe/nlist of the catalog) plus the coarse centroids, at the block read rate; pre-rank = the K gathered embedding rows at the random-row read rate plus the strong model\'s FLOPs on its budget at sgemm speed; rank = the ranker\'s FLOPs on M + fresh rows at sgemm speed; policy = one dot product per (result, candidate) pair at sgemm speed. Stage times are wall means from the engine\'s own stage histograms, so they include waiting for a worker or a libuv thread and the thread hops.',
    '',
    '| run | stage | mean ms | floor ms | floor / achieved |',
    '|---|---|---:|---:|---:|',
  );
  for (const r of s.runs.filter((x) => ['w1', 'w2', 'w3'].includes(x.name))) {
    for (const st of r.result.stages) {
      const fl = r.floors[st.stage];
      out.push(`| ${r.name} | ${st.stage} | ${f(st.meanMs, 3)} | ${fl === undefined ? '–' : f(fl, 3)} | ${fl === undefined ? '–' : `${f((100 * fl) / st.meanMs, 0)}%`} |`);
    }
  }
  out.push('');
  return out;
}

interface Sweep {
  meta: Meta;
  /** Flags given to the server (--server-args), when any. */
  serverArgs?: string;
  saturation: number;
  runs: {
    offeredRate: number;
    achievedRate: number;
    serverCpuUsPerRank: number;
    clientCpuUsPerCall: number;
    methods: Record<string, { calls?: number; errors?: Record<string, number>; latency: { p50: number; p99: number; p999?: number } }>;
  }[];
}

function sweepSection(s: Sweep, name: string, title = '## gRPC, open loop: latency vs offered load'): string[] {
  return [
    title,
    '',
    origin(s.meta),
    '',
    '| offered/s | achieved/s | Rank p50 ms | p99 ms | server CPU µs/Rank | client CPU µs/call |',
    '|---:|---:|---:|---:|---:|---:|',
    ...s.runs.map((r) => {
      const m = r.methods.Rank ?? Object.values(r.methods)[0];
      return `| ${f(r.offeredRate, 0)} | ${f(r.achievedRate, 1)} | ${f(m?.latency.p50)} | ${f(m?.latency.p99)} | ${f(r.serverCpuUsPerRank, 0)} | ${f(r.clientCpuUsPerCall, 0)} |`;
    }),
    '',
    `Saturation estimate (highest rate with p99 < 50 ms, ≥ 95% achieved, ≤ 0.1% errors): **${s.saturation} Rank/s**. Plot: [${name}.svg](bench/results/${name}.svg). Details: [${name}.md](bench/results/${name}.md).`,
    '',
    'One 10-second window per rate: on this shared machine the p99 at a given rate moves by 2-3x from one run to the next (and the estimate above with it), while server CPU per Rank moves by about 10%. Compare commits by server CPU per Rank and by the highest rate served in full.',
    '',
    `![p50 and p99 vs offered rate](bench/results/${name}.svg)`,
    '',
  ];
}

/** The W2 sweep next to the same sweep with the thread hops (--server-args), rate by rate. */
function sweepCompare(b: Sweep, a: Sweep, aName: string): string[] {
  const rows = b.runs.map((r) => {
    const o = a.runs.find((x) => x.offeredRate === r.offeredRate);
    const mb = r.methods.Rank;
    const ma = o?.methods.Rank;
    return `| ${f(r.offeredRate, 0)} | ${o ? f(o.achievedRate, 1) : '–'} | ${f(r.achievedRate, 1)} | ${o ? f(o.serverCpuUsPerRank, 0) : '–'} | ${f(r.serverCpuUsPerRank, 0)} | ${ma ? f(ma.latency.p50) : '–'} | ${mb ? f(mb.latency.p50) : '–'} |`;
  });
  return [
    `Against the same sweep with the server flags \`${a.serverArgs ?? '(see the file)'}\` (the scoring batch and the search each cross to another thread and back, as before those settings existed; [${aName}.md](bench/results/${aName}.md), commit \`${a.meta.commit}\`):`,
    '',
    '| offered/s | achieved/s, hops | achieved/s | server CPU µs/Rank, hops | server CPU µs/Rank | p50 ms, hops | p50 ms |',
    '|---:|---:|---:|---:|---:|---:|---:|',
    ...rows,
    '',
  ];
}

/** Served in full: at least 95% of the offered rate achieved, and at most 0.1% of Rank calls failed (the sweep's own criteria, less the p99). */
function servedInFull(r: Sweep['runs'][number]): boolean {
  const m = r.methods.Rank;
  const errors = m?.errors ? Object.values(m.errors).reduce((a, b) => a + b, 0) : 0;
  return r.achievedRate >= 0.95 * r.offeredRate && (!m?.calls || errors <= 0.001 * m.calls);
}

interface AbRes {
  meta: Meta & { a: { commit: string }; b: { commit: string } };
  workload: string;
  pairs: number;
  calls: number;
  rows: { metric: string; medianA: number; medianB: number; ratio: number }[];
}

async function abSection(files: string[]): Promise<string[]> {
  const out = [
    '## Before/after pairs',
    '',
    'Two builds of the cascade in interleaved pairs (A B, B A, ...), medians over the pairs (`bench/ab.js`): changes under about 10% of a whole-cascade figure are within this machine\'s noise even so; the stage that changed is the figure to read.',
    '',
  ];
  for (const name of files) {
    const r = await read<AbRes>(name);
    if (!r) continue;
    const md = name.replace(/\.json$/, '.md');
    out.push(`### ${r.workload}: \`${r.meta.a.commit}\` (A) vs \`${r.meta.b.commit}\` (B) ([${md}](bench/results/${md}))`, '', origin(r.meta), '');
    out.push('| metric | A median | B median | B / A |', '|---|---:|---:|---:|');
    const d = (metric: string) => (metric.endsWith(' ms') ? 3 : 0);
    for (const row of r.rows) out.push(`| ${row.metric} | ${f(row.medianA, d(row.metric))} | ${f(row.medianB, d(row.metric))} | ${f(row.ratio)} |`);
    out.push('');
  }
  return out;
}

interface Soak {
  meta: Meta;
  saturation: number;
  phases: { name: string; offered: number; accepted: number; rankP99: number; shed: number; rssStart: number; rssEnd: number; eventsAcknowledged: number; eventsApplied: number }[];
}

function soakSection(s: Soak, file: string): string[] {
  return [
    `## Soak and overload ([${file}.md](bench/results/${file}.md))`,
    '',
    origin(s.meta),
    '',
    '| phase | offered/s | accepted/s | Rank p99 ms (accepted) | shed | RSS start → end MiB | events acknowledged / applied |',
    '|---|---:|---:|---:|---:|---|---|',
    ...s.phases.map((p) => `| ${p.name} | ${f(p.offered, 0)} | ${f(p.accepted, 1)} | ${f(p.rankP99)} | ${p.shed} | ${f(p.rssStart, 0)} → ${f(p.rssEnd, 0)} | ${p.eventsAcknowledged} / ${p.eventsApplied} |`),
    '',
  ];
}

interface MemSoak {
  meta: Meta;
  calls: number;
  concurrency: number;
  users: number;
  wallS: number;
  callsPerS: number;
  statuses: Record<string, number>;
  eventsAcknowledged: number;
  eventsApplied: number;
  rssSlopeKiBPer100kCalls: number;
  heapSlopeKiBPer100kCalls: number;
  checkpoints: { calls: number; t: number; rssMiB: number; heapUsedMiB: number; externalMiB: number }[];
}

function memSoakSection(m: MemSoak): string[] {
  return [
    `## Memory over ${m.calls} calls ([loadgen-memsoak.md](bench/results/loadgen-memsoak.md))`,
    '',
    origin(m.meta),
    '',
    `Closed loop, ${m.concurrency} in flight, one RecordEvents per five Rank calls, ${m.users} users in rotation; ${f(m.wallS / 60, 1)} min at ${f(m.callsPerS, 0)} calls/s. Statuses: ${Object.entries(m.statuses)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. Events acknowledged ${m.eventsAcknowledged}, applied ${m.eventsApplied}.`,
    '',
    '| calls | RSS MiB | V8 heap used MiB | external MiB |',
    '|---:|---:|---:|---:|',
    ...m.checkpoints.map((c) => `| ${c.calls} | ${f(c.rssMiB, 1)} | ${f(c.heapUsedMiB, 1)} | ${f(c.externalMiB, 1)} |`),
    '',
    `RSS slope over the second half: ${f(m.rssSlopeKiBPer100kCalls, 0)} KiB per 100k calls (V8 heap used: ${f(m.heapSlopeKiBPer100kCalls, 0)} KiB per 100k calls).`,
    '',
  ];
}

interface EventLogRes {
  meta: Meta;
  dir: string;
  seconds: number;
  rows: { sync: string; concurrency: number; appendsPerS: number; p50Ms: number; p99Ms: number; eventsPerWrite: number }[];
}

function eventLogSection(e: EventLogRes): string[] {
  return [
    '## Durable event log: append cost ([event-log.md](bench/results/event-log.md))',
    '',
    origin(e.meta),
    '',
    '| sync | appends in flight | appends/s | p50 ms | p99 ms | events per write |',
    '|---|---:|---:|---:|---:|---:|',
    ...e.rows.map((r) => `| ${r.sync} | ${r.concurrency} | ${f(r.appendsPerS, 0)} | ${f(r.p50Ms, 3)} | ${f(r.p99Ms, 3)} | ${f(r.eventsPerWrite, 1)} |`),
    '',
  ];
}

interface Kernels {
  meta: Meta;
  rows: { kernel: string; case: string; timing: { medianUs: number; p99Us: number }; gflops?: number; note?: string }[];
  faiss: { index: string; params: string; n: number; timing: { medianUs: number; p99Us: number }; recallAt1000: number }[];
}

function kernelSection(k: Kernels): string[] {
  return [
    '## Native kernels ([native-kernels.md](bench/results/native-kernels.md))',
    '',
    origin(k.meta),
    '',
    '| kernel | case | median µs | p99 µs | GFLOP/s |',
    '|---|---|---:|---:|---:|',
    ...k.rows.map((r) => `| ${r.kernel} | ${r.case} | ${f(r.timing.medianUs, 1)} | ${f(r.timing.p99Us, 1)} | ${r.gflops === undefined ? '' : f(r.gflops, 1)} |`),
    '',
    '| index | params | vectors | median ms | p99 ms | recall@1000 |',
    '|---|---|---:|---:|---:|---:|',
    ...k.faiss.map((x) => `| ${x.index} | ${x.params} | ${x.n} | ${f(x.timing.medianUs / 1000)} | ${f(x.timing.p99Us / 1000)} | ${f(x.recallAt1000, 3)} |`),
    '',
  ];
}

interface RetrievalRes {
  k: number;
  users: number;
  world: { items: number; dim: number; manifestIndex: { factory: string; nprobe?: number } };
  rows: { index: string; nprobe: number; recall: number; recallMin: number; us: { p50: number; p90: number; p99: number } }[];
  targets: { index: string; recall: number; nprobe: number | null; p50Us: number | null; p99Us: number | null; met: boolean }[];
}

function retrievalSection(r: RetrievalRes & Meta): string[] {
  return [
    '## W2 retrieval: recall@1000 vs time, by index ([retrieval-w2.md](bench/results/retrieval-w2.md))',
    '',
    origin(r),
    '',
    `The W2 world's own user queries (${r.users} warm users, user-tower embeddings); recall against the exact top ${r.k} by inner product over all ${r.world.items} rows; one search on the calling thread. The same embeddings under three FAISS indexes (same k-means lists).`,
    '',
    '| index | smallest nprobe with recall ≥ 0.95 | p50 µs | p99 µs | ≤ 1 ms at the median |',
    '|---|---:|---:|---:|---|',
    ...r.targets.map((t) => `| ${t.index} | ${t.nprobe ?? '–'} | ${t.p50Us ?? '–'} | ${t.p99Us ?? '–'} | ${t.met ? 'yes' : 'no'} |`),
    '',
    '| index | nprobe | recall@1000 | p50 µs | p99 µs |',
    '|---|---:|---:|---:|---:|',
    ...r.rows.filter((x) => [64, 128, 192, 256, 512].includes(x.nprobe)).map((x) => `| ${x.index} | ${x.nprobe} | ${f(x.recall, 4)} | ${x.us.p50} | ${x.us.p99} |`),
    '',
  ];
}

interface PoolScaling extends Meta {
  workload: string;
  rowsPerBatch: number;
  runs: { threads: number; batchesPerSecond: number; rowsPerSecond: number; cpuMsPerBatch: { main: number; others: number } }[];
  speedup: number;
}

function poolSection(p: PoolScaling): string[] {
  return [
    `## Scoring pool: 1 worker vs 2 ([pool-scaling.md](bench/results/pool-scaling.md))`,
    '',
    origin(p),
    '',
    `The ${p.workload} ranker on batches of ${p.rowsPerBatch} rows, kept queued from a main thread that does nothing else; runs alternate 1, 2, 1, 2 workers.`,
    '',
    '| workers | batches/s | main-thread CPU ms/batch | worker + other CPU ms/batch |',
    '|---:|---:|---:|---:|',
    ...p.runs.map((r) => `| ${r.threads} | ${f(r.batchesPerSecond, 0)} | ${f(r.cpuMsPerBatch.main, 3)} | ${f(r.cpuMsPerBatch.others, 3)} |`),
    '',
    `2 workers / 1 worker (best of each): **${f(p.speedup)}x**.`,
    '',
  ];
}

interface FloorRes extends Meta {
  seconds: number;
  rows: { target: string; inFlight: number; callsPerSecond: number; rttMs: { p50: number; p99: number }; serverCpuUs: number; clientCpuUs: number }[];
}

function floorSection(r: FloorRes): string[] {
  return [
    '## Transport floor: what a gRPC call costs before ranking ([loadgen-floor.md](bench/results/loadgen-floor.md))',
    '',
    origin(r),
    '',
    'Closed loop, calls kept in flight. "bare grpc-js": a server with only the proto, answering INVALID_ARGUMENT at once; "rejected": the ranking server refusing an empty user_id; "Rank": the default request on the demo world.',
    '',
    '| target | in flight | calls/s | RTT p50 ms | RTT p99 ms | server CPU µs/call | client CPU µs/call |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...r.rows.map((x) => `| ${x.target} | ${x.inFlight} | ${f(x.callsPerSecond, 0)} | ${f(x.rttMs.p50)} | ${f(x.rttMs.p99)} | ${f(x.serverCpuUs, 0)} | ${f(x.clientCpuUs, 0)} |`),
    '',
  ];
}

interface BundleRes {
  meta: Meta;
  results: { items: number; dim: number; generateS: number; loadS: number; index: string; peakRss: number; peakOverRaw: number }[];
}

function bundleSection(b: BundleRes): string[] {
  return [
    '## Bundle load ([bundle.md](bench/results/bundle.md))',
    '',
    origin(b.meta),
    '',
    '| items | dim | generate s | load s | index | peak RSS MiB | peak / raw bytes |',
    '|---:|---:|---:|---:|---|---:|---:|',
    ...b.results.map((r) => `| ${r.items} | ${r.dim} | ${f(r.generateS, 1)} | ${f(r.loadS, 1)} | ${r.index} | ${f(r.peakRss / 2 ** 20, 0)} | ${f(r.peakOverRaw)} |`),
    '',
  ];
}

/** The issue's targets against the latest results (reported, never asserted). */
function targetsSection(suite: Suite | null, sweep: Sweep | null, sweepW2: Sweep | null, k: Kernels | null, retr: RetrievalRes | null, floor: FloorRes | null, pool: PoolScaling | null): string[] {
  const by = new Map((suite?.runs ?? []).map((r) => [r.name, r.result]));
  const total = (r?: CascadeResult) => (r ? r.cpuUsPerCall.main + r.cpuUsPerCall.others : NaN);
  const rows: string[] = [];
  const best = retr?.targets.filter((t) => t.p50Us !== null).sort((a, b) => a.p50Us! - b.p50Us!)[0];
  if (best) {
    rows.push(`| W2 retrieval k = 1000 at recall@1000 ≥ 0.95 in ≤ 1 ms | ${f(best.p50Us! / 1000)} ms median, ${f(best.p99Us! / 1000)} ms p99 (${best.index}, nprobe ${best.nprobe}, the W2 world's own queries) | retrieval-w2 |`);
  } else {
    const ivf = k?.faiss.find((x) => /IVF4096/.test(x.index) && /nprobe 64\b/.test(x.params));
    if (ivf) rows.push(`| W2-size retrieval k = 1000 at recall@1000 ≥ 0.95 in ≤ 1 ms | ${f(ivf.timing.medianUs / 1000)} ms at recall ${f(ivf.recallAt1000, 3)} (${ivf.index}, ${ivf.params}, synthetic 1M x 64) | native-kernels |`);
  }
  const w1 = by.get('w1');
  const ort = by.get('w1-ort');
  const rank = (r?: CascadeResult) => r?.stages.find((x) => x.stage === 'rank')?.meanMs;
  if (w1 && ort) rows.push(`| native DCN-v2 at least as fast as ONNX Runtime | rank stage ${f(rank(w1), 3)} vs ${f(rank(ort), 3)} ms in the cascade | suite w1 vs w1-ort |`);
  const w2 = by.get('w2');
  if (w2) rows.push(`| W2 CPU ≤ 1.0 ms per Rank | ${f(total(w2) / 1000)} ms in-process, without gRPC | suite w2 |`);
  const w2f = suite?.runs.find((r) => r.name === 'w2')?.floors;
  if (w2f) {
    const sum = Object.values(w2f).reduce((a, b) => a + b, 0);
    const parts = Object.entries(w2f).map(([stage, ms]) => `${stage} ${f(ms, 2)}`).join(', ');
    rows.push(`| (context) W2's floor on this machine | ${f(sum, 2)} ms of CPU (${parts}): this run's sgemm speed and read rates over the work W2 prescribes (per-stage model below), so the 1.0 ms target is under what this machine can do for W2 | suite w2 |`);
  }
  if (sweep) {
    const best = sweep.runs.filter(servedInFull).reduce((a, r) => Math.max(a, r.achievedRate), 0);
    const half = sweep.runs.reduce<(typeof sweep.runs)[number] | undefined>((a, r) => (!a || Math.abs(r.offeredRate - best / 2) < Math.abs(a.offeredRate - best / 2) ? r : a), undefined);
    const m = half ? (half.methods.Rank ?? Object.values(half.methods)[0]) : undefined;
    rows.push(`| ≥ 1000 Rank/s with the server on one core | highest rate served in full (≥ 95% of the offered rate, ≤ 0.1% errors): ${f(best, 0)}/s | loadgen sweep |`);
    if (half && m) rows.push(`| p99 ≤ 5 ms at 50% of saturation | p99 ${f(m.latency.p99)} ms at ${f(half.offeredRate, 0)}/s (client-side latency included) | loadgen sweep |`);
    rows.push(
      '| (context) what that p99 needs | Poisson arrivals at 50% load queue behind each other: with a fixed service time S, 1% of calls wait more than 3.3 S (M/D/1, simulated), so the p99 is about 4.3 S and a 5 ms p99 needs S ≤ 1.2 ms of server time per call, the same bound as the CPU target | queueing model |',
    );
  }
  if (sweepW2) {
    const best = sweepW2.runs.filter(servedInFull).reduce((a, r) => Math.max(a, r.achievedRate), 0);
    const cpu = sweepW2.runs.filter(servedInFull).map((r) => f(r.serverCpuUsPerRank, 0));
    rows.push(`| (context) W2 through gRPC, server on one core | highest rate served in full: ${f(best, 0)}/s; server CPU per Rank ${cpu.join(' / ')} µs at the rates served | loadgen sweep-w2 |`);
  }
  const idle = by.get('w1-idle10');
  if (w1 && idle) {
    rows.push(
      `| (context) the cost of idling between calls | W1 ${f(total(w1), 0)} µs of CPU per call back to back, ${f(total(idle), 0)} µs (${f(total(idle) / total(w1))}x) with 10 ms idle after each call: every stage slows down after the process sleeps, so a server at a moderate rate spends more per call than the in-process figure | suite w1 vs w1-idle10 |`,
    );
  }
  const bare1 = floor?.rows.find((x) => /bare/.test(x.target) && x.inFlight === 1);
  const bareMax = floor?.rows.filter((x) => /bare/.test(x.target)).sort((a, b) => b.callsPerSecond - a.callsPerSecond)[0];
  if (bare1 && bareMax) {
    rows.push(`| (context) the transport alone | a call that does nothing: RTT p50 ${f(bare1.rttMs.p50)} ms, p99 ${f(bare1.rttMs.p99)} ms one at a time; ${f(bareMax.serverCpuUs, 0)} µs server CPU per call at best (${bareMax.inFlight} in flight) | loadgen floor |`);
  }
  const two = by.get('w1-c4-pool');
  const one = by.get('w1-c4-pool-1worker');
  if (pool) rows.push(`| 2 pool workers ≥ 1.7x 1 worker | ${f(pool.speedup)}x for the pool alone (${pool.workload} ranker, ${pool.rowsPerBatch}-row batches) | pool-scaling |`);
  if (two && one) rows.push(`| (context) workers inside the cascade | ${f(two.callsPerSecond / one.callsPerSecond)}x (2 cores shared with the main thread, the busiest thread) | suite w1-c4-pool vs -1worker |`);
  if (rows.length === 0) return [];
  return ['## Targets', '', '| target | measured | from |', '|---|---|---|', ...rows, ''];
}

export async function summarize(): Promise<string> {
  const lines = [
    '# Benchmarks',
    '',
    'Generated by `node dist/bench/summarize.js` from the result files in `bench/results/`; every section names the command, date, commit and CPU of the run it comes from. Machines are noisy (this one: 2 shared cores); compare numbers only within one run.',
    '',
    ...(await headlineSection()),
    'Reproduce:',
    '',
    '```sh',
    'npm run build',
    'node dist/bench/suite.js                     # in-process cascade, baselines, stage floors (~10 min)',
    'node dist/bench/retrieval.js --out retrieval-w2   # W2 recall@1000 vs time by index and nprobe (~3 min)',
    'node dist/bench/loadgen/sweep.js --rates 50,100,150,200,250,300 --duration 10 --warmup 3 --out sweep',
    'node dist/bench/loadgen/sweep.js --workload w2 --rates 50,100,150,200,250 --duration 10 --warmup 3 --out sweep-w2',
    'node dist/bench/loadgen/floor.js --out floor  # gRPC transport floor: bare grpc-js vs the server',
    'node dist/bench/pool-scaling.js --out pool-scaling   # scoring pool, 1 worker vs 2',
    'node dist/bench/ab.js --a ../old-checkout --workload w2 --out w2   # before/after: interleaved pairs of two builds',
    'node dist/bench/loadgen/soak.js --saturation 220 --minutes 10 --out soak',
    'node dist/bench/loadgen/memsoak.js --calls 1000000   # memory over a million calls (~1 h)',
    'node dist/bench/event-log.js --dir .data              # durable event log append cost',
    'npm run bench:native                         # kernels',
    'node dist/bench/dcn-precision.js             # rankers in fp32 (packed, oneDNN), bf16, int8',
    'node dist/bench/headline.js --a ../old-checkout --pairs 2 --duration 10 --out w2   # the leading table (~7 min)',
    'node dist/bench/core-scaling.js              # threads vs one process per core (~3 min)',
    'node dist/bench/bundle-load.js --sizes 100000,1000000',
    'node dist/bench/summarize.js',
    '```',
    '',
  ];
  const suite = await read<Suite>('suite.json');
  const sweep = await read<Sweep>('loadgen-sweep.json');
  const k = await read<Kernels>('native-kernels.json');
  const retr = await read<RetrievalRes & Meta>('retrieval-w2.json');
  const floor = await read<FloorRes>('loadgen-floor.json');
  const pool = await read<PoolScaling>('pool-scaling.json');
  const sweepW2 = await read<Sweep>('loadgen-sweep-w2.json');
  lines.push(...targetsSection(suite, sweep, sweepW2, k, retr, floor, pool));
  if (suite) lines.push(...suiteSection(suite));
  if (retr) lines.push(...retrievalSection(retr));
  for (const name of ['interest-search-w1.md', 'interest-search-w2.md']) {
    const md = await readMd(name);
    if (md) lines.push(...md, '');
  }
  if (pool) lines.push(...poolSection(pool));
  const scaling = await readMd('core-scaling.md');
  if (scaling) lines.push(...scaling, '');
  if (sweep) lines.push(...sweepSection(sweep, 'loadgen-sweep'));
  if (sweepW2) {
    lines.push(...sweepSection(sweepW2, 'loadgen-sweep-w2', '## gRPC, open loop, W2 (1M items, 50 results): latency vs offered load'));
    const hops = await read<Sweep>('loadgen-sweep-w2-hops.json');
    if (hops) lines.push(...sweepCompare(sweepW2, hops, 'loadgen-sweep-w2-hops'));
  }
  if (floor) lines.push(...floorSection(floor));
  for (const name of ['loadgen-soak', 'loadgen-soak-limit12', 'loadgen-soak-wait50']) {
    const soak = await read<Soak>(`${name}.json`);
    if (soak) lines.push(...soakSection(soak, name));
  }
  const mem = await read<MemSoak>('loadgen-memsoak.json');
  if (mem) lines.push(...memSoakSection(mem));
  const ev = await read<EventLogRes>('event-log.json');
  if (ev) lines.push(...eventLogSection(ev));
  const ab = (await fs.readdir(RESULTS)).filter((n) => /^ab-[\w.-]+\.json$/.test(n)).sort();
  if (ab.length > 0) lines.push(...(await abSection(ab)));
  if (k) lines.push(...kernelSection(k));
  const b = await read<BundleRes>('bundle.json');
  if (b) lines.push(...bundleSection(b));
  return lines.join('\n') + '\n';
}

/** A result's markdown with its title turned into a section heading (and a link to the file). */
async function readMd(name: string): Promise<string[] | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(RESULTS, name), 'utf8');
  } catch {
    return null;
  }
  const lines = text.trimEnd().split('\n');
  if (lines[0]?.startsWith('# ')) lines[0] = `## ${lines[0].slice(2)} ([${name}](bench/results/${name}))`;
  return lines;
}

/** The headline before/after through gRPC (bench/headline.ts), first in the file. */
async function headlineSection(): Promise<string[]> {
  const h = await readMd('headline-w2.md');
  if (!h) return [];
  return [
    ...h,
    '',
    "Where the server's CPU goes, and the floors of each stage: see the in-process cascade section (stage floors) and the transport floor below. The same cascade costs 1.5x more CPU per call when the process idles between calls, as a server at 100/s does (`taskset -c 0 node dist/bench/cascade.js --workload w2 --pause-ms 10` vs without the pause).",
    '',
  ];
}

if (require.main === module) {
  summarize()
    .then((md) => fs.writeFile(path.join(ROOT, 'BENCHMARKS.md'), md))
    .then(() => console.log('wrote BENCHMARKS.md'))
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
