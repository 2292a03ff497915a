// The headline before/after of the speed work, through gRPC: two builds of
// the server (a checkout of the baseline commit, and this one) serve the W2
// world in turn, pinned to CPU 0, while the open-loop generator (raw HTTP/2,
// pre-encoded requests, Poisson arrivals, latency from the scheduled send
// time) runs on CPU 1. Per run:
//   1. open loop at --rate (100/s): server CPU per Rank, and each stage's
//      mean time from the server's own stage histograms;
//   2. saturation: open loop at --overload (well past what one core serves)
//      for a few seconds; the OK rate achieved is the saturation estimate;
//   3. open loop at half of that: p50 / p99 / p99.9.
// Runs alternate A B B A ... so that slow and fast phases of a shared machine
// fall on both sides; the table gives the medians. Writes
// bench/results/headline-NAME.{json,md}, which summarize.js puts on top of
// BENCHMARKS.md.
//
//   node dist/bench/headline.js --a /path/to/baseline-checkout [--b .] [--pairs 2]
//        [--rate 100] [--overload 600] [--duration 10] [--out w2] [--a-args "..."] [--b-args "..."]
//
// --a-args / --b-args: extra server flags for one side (--a . --b-args
// "--user-store redis://127.0.0.1:6379" compares one build with user state in
// Redis; a value that starts with a dash goes as --b-args="--flag ...").
import { ChildProcess, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { native } from '../src/native/binding';
import { ensureWorld } from '../tools/world/cache';
import { workloadBundle, WORKLOADS } from './cascade';
import { DEFAULT_LOAD, LoadResult, runLoad } from './loadgen/client';
import { runMeta } from './loadgen/report';
import { hasTaskset, startServer } from './loadgen/server';

const ROOT = path.join(__dirname, '..', '..');
const STAGES = ['user_state', 'user_embedding', 'retrieval', 'prerank', 'rank', 'ensemble', 'policy'];

interface SideRun {
  side: 'a' | 'b';
  /** model_precision_info of the server, when it exports it. */
  precision: string;
  cpuUsPerRank: number;
  stagesMs: Record<string, number>;
  saturationPerS: number;
  /** At --rate: the event loop's delay p99 (prom-client, over the window), GC pauses (all kinds) per Rank and their mean. */
  loop: { lagP99Ms: number; gcMsPerRank: number; gcMeanMs: number; gcPerS: number };
  halfLoad: { rate: number; p50Ms: number; p99Ms: number; p999Ms: number; okShare: number };
}

/** The short commit of a checkout (its path when it is not one). */
function commitOf(dir: string): string {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return dir;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** Event-loop delay p99 at the second scrape, and GC pauses between the two. */
function loopStats(before: string, after: string, seconds: number): SideRun['loop'] {
  const ok = (t: string) => Number(/^ranking_requests_total\{method="Rank",code="OK"\} ([-+\d.eE]+)$/m.exec(t)?.[1] ?? NaN);
  const ranks = ok(after) - ok(before);
  const sum = (t: string, what: 'sum' | 'count') => [...t.matchAll(new RegExp(`^nodejs_gc_duration_seconds_${what}\\{kind="\\w+"\\} ([-+\\d.eE]+)$`, 'gm'))].reduce((a, m) => a + Number(m[1]), 0);
  const lag = /^nodejs_eventloop_lag_p99_seconds ([-+\d.eE]+)$/m.exec(after);
  const gcS = sum(after, 'sum') - sum(before, 'sum');
  const gcN = sum(after, 'count') - sum(before, 'count');
  return { lagP99Ms: lag ? Number(lag[1]) * 1000 : NaN, gcMsPerRank: ranks > 0 ? (gcS * 1000) / ranks : NaN, gcMeanMs: gcN > 0 ? (gcS * 1000) / gcN : 0, gcPerS: gcN / seconds };
}

/** Mean stage time in ms between two scrapes of the server's stage histograms. */
function stageMeans(before: string, after: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of STAGES) {
    const sel = (t: string, what: 'sum' | 'count') => {
      const m = new RegExp(`^ranking_stage_duration_seconds_${what}\\{stage="${s}"\\} ([-+\\d.eE]+)$`, 'm').exec(t);
      return m ? Number(m[1]) : 0;
    };
    const n = sel(after, 'count') - sel(before, 'count');
    out[s] = n > 0 ? ((sel(after, 'sum') - sel(before, 'sum')) / n) * 1000 : NaN;
  }
  return out;
}

async function runSide(side: 'a' | 'b', root: string, serverArgs: string[], o: { rate: number; overload: number; duration: number; pin: boolean; items: number; users: number; numResults: number }): Promise<SideRun> {
  const grpcPort = 50171;
  const httpPort = 8171;
  const server: ChildProcess = await startServer(root, grpcPort, httpPort, o.pin, serverArgs);
  const load = (rate: number, durationS: number, warmupS: number): Promise<LoadResult> =>
    runLoad({
      ...DEFAULT_LOAD,
      target: `127.0.0.1:${grpcPort}`,
      rate,
      durationS,
      warmupS,
      items: o.items,
      users: o.users,
      numResults: o.numResults,
      serverPid: server.pid,
      clientCpus: o.pin ? '1' : undefined,
    });
  try {
    await load(o.rate, 2, 1); // warm: first calls, page cache, JIT
    const m0 = await scrape(httpPort);
    const tSteady = process.hrtime.bigint();
    const steady = await load(o.rate, o.duration, 2);
    const m1 = await scrape(httpPort);
    const steadyS = Number(process.hrtime.bigint() - tSteady) / 1e9;
    const over = await load(o.overload, 5, 1);
    await new Promise((r) => setTimeout(r, 2000)); // drain
    const saturation = over.methods.Rank?.achievedRate ?? NaN;
    const half = Math.max(1, Math.round(saturation / 2));
    const h = await load(half, o.duration, 2);
    const rank = h.methods.Rank!;
    const precision = [...m0.matchAll(/^ranking_model_precision_info\{model="(\w+)",precision="(\w+)",kernels="(\w+)"\} 1$/gm)].map((m) => `${m[1]} ${m[2]} (${m[3]})`).join(', ');
    const run: SideRun = {
      side,
      precision: precision || 'fp32 (not exported)',
      cpuUsPerRank: steady.serverCpuUsPerRank ?? NaN,
      stagesMs: stageMeans(m0, m1),
      saturationPerS: saturation,
      loop: loopStats(m0, m1, steadyS),
      halfLoad: { rate: half, p50Ms: rank.latency.p50, p99Ms: rank.latency.p99, p999Ms: rank.latency.p999, okShare: rank.calls > 0 ? rank.ok / rank.calls : NaN },
    };
    return run;
  } finally {
    server.kill('SIGTERM');
    await new Promise((r) => server.once('exit', r));
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string', default: '.' },
      pairs: { type: 'string', default: '2' },
      rate: { type: 'string', default: '100' },
      overload: { type: 'string', default: '600' },
      duration: { type: 'string', default: '10' },
      out: { type: 'string', default: 'w2' },
      'no-pin': { type: 'boolean', default: false },
      'a-args': { type: 'string', default: '' },
      'b-args': { type: 'string', default: '' },
    },
  });
  if (!values.a) throw new Error('--a DIR is required: a built checkout of the baseline');
  if (!/^[\w.-]+$/.test(values.out!)) throw new Error('--out must be a plain name');
  const dirs = { a: path.resolve(values.a), b: path.resolve(values.b!) };
  const pairs = Number(values.pairs);
  const pin = !values['no-pin'] && hasTaskset();
  const spec = WORKLOADS.w2;
  const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => process.stderr.write(m + '\n'));
  const serverArgs = ['--bundle', await workloadBundle(spec, paths.bundle), '--events', paths.events];
  const o = { rate: Number(values.rate), overload: Number(values.overload), duration: Number(values.duration), pin, items: spec.world.config.items, users: spec.world.config.users, numResults: spec.numResults };
  const runs: SideRun[] = [];
  for (let p = 0; p < pairs; p++) {
    for (const side of p % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const extra = (values[`${side}-args`] ?? '').split(/\s+/).filter((x) => x.length > 0);
      const r = await runSide(side, dirs[side], [...serverArgs, ...extra], o);
      runs.push(r);
      process.stderr.write(`pair ${p + 1} ${side}: ${r.cpuUsPerRank.toFixed(0)} µs CPU/Rank at ${o.rate}/s, saturation ${r.saturationPerS.toFixed(0)}/s, p99 ${r.halfLoad.p99Ms.toFixed(2)} ms at ${r.halfLoad.rate}/s\n`);
    }
  }
  const meta = { ...runMeta(ROOT, `node dist/bench/headline.js ${process.argv.slice(2).join(' ')}`, pin ? 'server on CPU 0, load generator on CPU 1' : 'no pinning'), a: dirs.a, b: dirs.b };
  const cpu = native.onednnCpu;
  const isa = `${cpu.isa}${cpu.vnni ? ', int8 dot products (VNNI)' : ''}${cpu.bf16 ? ', AVX-512 BF16' : ''}${cpu.amx ? ', AMX' : ''}`;
  const precisionA = runs.find((r) => r.side === 'a')?.precision ?? '';
  const precisionB = runs.find((r) => r.side === 'b')?.precision ?? '';
  const med = (side: 'a' | 'b', get: (r: SideRun) => number) => median(runs.filter((r) => r.side === side).map(get));
  const row = (name: string, get: (r: SideRun) => number, digits = 0) => {
    const a = med('a', get);
    const b = med('b', get);
    return `| ${name} | ${a.toFixed(digits)} | ${b.toFixed(digits)} | ${(b / a).toFixed(2)} |`;
  };
  const lines = [
    `# Headline: W2 through gRPC, before (A) and after (B)`,
    '',
    `${meta.date} · ${meta.cpu} (${meta.cores} cores; oneDNN ISA: ${isa}) · Node ${meta.node} · ${meta.pinning} · \`${meta.command}\``,
    '',
    `A: \`${commitOf(dirs.a)}\`${values['a-args'] ? ` with \`${values['a-args']}\`` : ''} (${precisionA}); B: \`${commitOf(dirs.b)}\`${values['b-args'] ? ` with \`${values['b-args']}\`` : ''} (${precisionB}); precisions as each server's metrics say. ${pairs} interleaved pairs, medians. Users rotate over the world's ${o.users} users (no repeat within a run, so the user-embedding cache never hits here).`,
    '',
    '| metric | A | B | B / A |',
    '|---|---:|---:|---:|',
    row(`server CPU per Rank at ${o.rate}/s, µs`, (r) => r.cpuUsPerRank),
    row('saturation on one core, Rank/s', (r) => r.saturationPerS),
    row('p50 at 50% of saturation, ms', (r) => r.halfLoad.p50Ms, 2),
    row('p99 at 50% of saturation, ms', (r) => r.halfLoad.p99Ms, 2),
    row('p99.9 at 50% of saturation, ms', (r) => r.halfLoad.p999Ms, 2),
    row(`event-loop delay p99 at ${o.rate}/s, ms`, (r) => r.loop.lagP99Ms, 2),
    row(`GC pause time per Rank at ${o.rate}/s, µs`, (r) => r.loop.gcMsPerRank * 1000, 0),
    row(`GC pauses at ${o.rate}/s, per s (mean ms)`, (r) => r.loop.gcPerS, 1),
    row(`GC pause mean at ${o.rate}/s, ms`, (r) => r.loop.gcMeanMs, 3),
    ...STAGES.map((s) => row(`stage ${s}, ms (mean at ${o.rate}/s)`, (r) => r.stagesMs[s], 3)),
  ];
  console.log(lines.join('\n'));
  const dir = path.join(ROOT, 'bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, `headline-${values.out}.json`), JSON.stringify({ meta, isa, precisionB, options: o, runs }, null, 2) + '\n');
  await fs.writeFile(path.join(dir, `headline-${values.out}.md`), lines.join('\n') + '\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
