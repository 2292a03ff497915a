// How W2 throughput grows with cores: one process on one core, one process
// on every core (its main thread plus the scoring pool's worker threads), and
// one process per core (each pinned to its core, its own copy of the engine).
// In-process (bench/cascade.js, no transport), saturated (--concurrency
// calls in flight per process); runs alternate so slow phases of a shared
// machine fall on every configuration. The model for more cores comes from
// the same runs: a single process is bound by its main thread (the busiest
// thread: the whole cascade outside the scoring batches runs there), so its
// throughput cannot exceed 1 / (main-thread CPU per call), whatever the core
// count; processes add up until memory bandwidth (the retrieval scan's bytes
// per call) runs out. Writes bench/results/core-scaling.{json,md}.
//
//   node dist/bench/core-scaling.js [--calls 1500] [--rounds 2] [--concurrency 4]
//        [--bandwidth-gbs 100] [--cores-model 16]
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { hasTaskset } from './loadgen/server';
import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');

interface CascadeResult {
  callsPerSecond: number;
  cpuUsPerCall: { main: number; others: number };
  memory: { peakRssMiB: number };
  index: { factory: string };
  world: { dim: number };
}

type Config = '1 process, 1 core' | '1 process, all cores' | '1 process per core';

/** One cascade.js run; `cpu` pins it with taskset. */
async function cascade(tag: string, cpu: number | undefined, calls: number, concurrency: number): Promise<CascadeResult> {
  const out = `core-scaling-tmp-${tag}`;
  const args = [path.join(ROOT, 'dist', 'bench', 'cascade.js'), '--workload', 'w2', '--calls', String(calls), '--concurrency', String(concurrency), '--out', out];
  const child = cpu === undefined ? spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] }) : spawn('taskset', ['-c', String(cpu), process.execPath, ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  const code: number = await new Promise((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  if (code !== 0) throw new Error(`cascade.js (${tag}) exited with ${code}`);
  const file = path.join(ROOT, 'bench', 'results', `cascade-${out}`);
  const result = JSON.parse(await fs.readFile(`${file}.json`, 'utf8')) as CascadeResult;
  await Promise.all([fs.rm(`${file}.json`), fs.rm(`${file}.md`)]);
  return result;
}

interface Run {
  config: Config;
  round: number;
  callsPerSecond: number;
  mainUsPerCall: number;
  otherUsPerCall: number;
  peakRssMiB: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '1500' },
      rounds: { type: 'string', default: '2' },
      concurrency: { type: 'string', default: '4' },
      'bandwidth-gbs': { type: 'string', default: '100' },
      'cores-model': { type: 'string', default: '16' },
    },
  });
  if (!hasTaskset()) throw new Error('taskset is needed to pin processes to cores');
  const calls = Number(values.calls);
  const rounds = Number(values.rounds);
  const concurrency = Number(values.concurrency);
  const cores = os.availableParallelism();
  const runs: Run[] = [];
  const add = (config: Config, round: number, rs: CascadeResult[]) => {
    const run: Run = {
      config,
      round,
      callsPerSecond: rs.reduce((s, r) => s + r.callsPerSecond, 0),
      mainUsPerCall: rs.reduce((s, r) => s + r.cpuUsPerCall.main, 0) / rs.length,
      otherUsPerCall: rs.reduce((s, r) => s + r.cpuUsPerCall.others, 0) / rs.length,
      peakRssMiB: rs.reduce((s, r) => s + r.memory.peakRssMiB, 0),
    };
    runs.push(run);
    process.stderr.write(`${config} (round ${round + 1}): ${run.callsPerSecond.toFixed(0)} calls/s, main thread ${run.mainUsPerCall.toFixed(0)} µs/call, other threads ${run.otherUsPerCall.toFixed(0)} µs/call\n`);
  };
  for (let r = 0; r < rounds; r++) {
    add('1 process, 1 core', r, [await cascade('one', 0, calls, concurrency)]);
    add('1 process, all cores', r, [await cascade('all', undefined, calls, concurrency)]);
    const per = await Promise.all(Array.from({ length: cores }, (_, c) => cascade(`core${c}`, c, calls, concurrency)));
    add('1 process per core', r, per);
  }
  const best = (c: Config) => runs.filter((r) => r.config === c).sort((a, b) => b.callsPerSecond - a.callsPerSecond)[0];
  const one = best('1 process, 1 core');
  const all = best('1 process, all cores');
  const per = best('1 process per core');

  // The model. A single process: the main thread's CPU per call bounds it
  // (1e6 / main µs calls/s), the rest (workers) scales with cores.
  const n = Number(values['cores-model']);
  const totalUs = all.mainUsPerCall + all.otherUsPerCall;
  const threadsCap = 1e6 / all.mainUsPerCall;
  const threadsAtN = Math.min(threadsCap, (n * 1e6) / totalUs);
  // Processes: each core serves what one pinned process serves, until the
  // scan's bytes per call use up the memory bandwidth.
  const scanBytesPerCall = 3.1e6; // W2: 4096 lists, nprobe 192, 8-bit first pass over 64 dims (bench/results/retrieval-w2-refine.md)
  const perCore = per.callsPerSecond / cores;
  const bwCap = (Number(values['bandwidth-gbs']) * 1e9) / scanBytesPerCall;
  const procsAtN = Math.min(n * perCore, bwCap);
  const meta = runMeta(ROOT, `node dist/bench/core-scaling.js ${process.argv.slice(2).join(' ')}`.trim(), 'see configurations');
  const lines = [
    '# W2 throughput by cores: threads in one process vs one process per core',
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${cores} cores) · Node ${meta.node} · \`${meta.command}\``,
    '',
    `In-process cascade (bench/cascade.js --workload w2), ${concurrency} calls in flight per process, ${calls} calls after warm-up; ${rounds} rounds alternating the configurations, best round of each.`,
    '',
    '| configuration | calls/s | vs 1 core | main-thread CPU µs/call | other threads CPU µs/call | peak RSS MiB (all processes) |',
    '|---|---:|---:|---:|---:|---:|',
    ...[one, all, per].map((r) => `| ${r.config} | ${r.callsPerSecond.toFixed(0)} | ${(r.callsPerSecond / one.callsPerSecond).toFixed(2)}x | ${r.mainUsPerCall.toFixed(0)} | ${r.otherUsPerCall.toFixed(0)} | ${r.peakRssMiB.toFixed(0)} |`),
    '',
    `Model for ${n} cores: one process is capped by its main thread at ${threadsCap.toFixed(0)} calls/s (${(threadsCap / one.callsPerSecond).toFixed(2)}x one core) and reaches ${threadsAtN.toFixed(0)}; one process per core reaches ${procsAtN.toFixed(0)} calls/s (${perCore.toFixed(0)} per core; the memory-bandwidth cap at ${values['bandwidth-gbs']} GB/s and ${(scanBytesPerCall / 1e6).toFixed(1)} MB scanned per call is ${bwCap.toFixed(0)}), at one copy of the engine's memory per process.`,
  ];
  console.log(lines.join('\n'));
  const dir = path.join(ROOT, 'bench', 'results');
  await fs.writeFile(path.join(dir, 'core-scaling.json'), JSON.stringify({ meta, runs, model: { cores: n, threadsCap, threadsAtN, perCore, bwCap, procsAtN } }, null, 2) + '\n');
  await fs.writeFile(path.join(dir, 'core-scaling.md'), lines.join('\n') + '\n');
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.stack : err);
    process.exit(1);
  });
}
