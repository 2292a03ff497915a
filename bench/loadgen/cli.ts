// Open-loop gRPC load generator (coordinated-omission corrected).
//
//   node dist/bench/loadgen/cli.js --target 127.0.0.1:50051 --rate 200 --duration 20 --warmup 5
//        [--workers 2] [--mix rank|rank+events] [--arrivals poisson|constant] [--seed 1]
//        [--users 10000] [--timeout-ms 5000] [--server-pid PID] [--client-cpus 1] [--out NAME]
//
// Prints a markdown table; with --out NAME writes bench/results/loadgen-NAME.{json,md}.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { DEFAULT_LOAD, LoadOptions, Mix, runLoad } from './client';
import { LATENCY_NOTE, optionsText, runMeta, TABLE_HEAD, tableRows } from './report';
import type { ArrivalProcess } from './schedule';

const ROOT = path.join(__dirname, '..', '..', '..');

export function parseLoadArgs(argv: string[]): { options: LoadOptions; out?: string } {
  const { values } = parseArgs({
    args: argv,
    options: {
      target: { type: 'string', default: '127.0.0.1:50051' },
      rate: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      workers: { type: 'string' },
      mix: { type: 'string' },
      arrivals: { type: 'string' },
      seed: { type: 'string' },
      users: { type: 'string' },
      items: { type: 'string' },
      'num-results': { type: 'string' },
      'timeout-ms': { type: 'string' },
      'server-pid': { type: 'string' },
      'client-cpus': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const num = (v: string | undefined, d: number, name: string): number => {
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name} must be a non-negative number, got ${v}`);
    return n;
  };
  if (values.rate === undefined) throw new Error('--rate is required (calls per second)');
  const mix = (values.mix ?? DEFAULT_LOAD.mix) as Mix;
  if (mix !== 'rank' && mix !== 'rank+events') throw new Error(`--mix must be rank or rank+events, got ${mix}`);
  const arrivals = (values.arrivals ?? DEFAULT_LOAD.process) as ArrivalProcess;
  if (arrivals !== 'poisson' && arrivals !== 'constant') throw new Error(`--arrivals must be poisson or constant, got ${arrivals}`);
  const options: LoadOptions = {
    target: values.target!,
    rate: num(values.rate, 0, 'rate'),
    durationS: num(values.duration, DEFAULT_LOAD.durationS, 'duration'),
    warmupS: num(values.warmup, DEFAULT_LOAD.warmupS, 'warmup'),
    workers: Math.max(1, Math.floor(num(values.workers, DEFAULT_LOAD.workers, 'workers'))),
    mix,
    process: arrivals,
    seed: num(values.seed, DEFAULT_LOAD.seed, 'seed'),
    users: Math.max(1, num(values.users, DEFAULT_LOAD.users, 'users')),
    items: Math.max(1, num(values.items, DEFAULT_LOAD.items, 'items')),
    numResults: num(values['num-results'], DEFAULT_LOAD.numResults, 'num-results'),
    timeoutMs: num(values['timeout-ms'], DEFAULT_LOAD.timeoutMs, 'timeout-ms'),
    serverPid: values['server-pid'] === undefined ? undefined : num(values['server-pid'], 0, 'server-pid'),
    clientCpus: values['client-cpus'],
  };
  if (!(options.rate > 0) || !(options.durationS > 0)) throw new Error('--rate and --duration must be > 0');
  return { options, out: values.out };
}

async function main(): Promise<void> {
  const { options, out } = parseLoadArgs(process.argv.slice(2));
  process.stderr.write(`open loop: ${optionsText(options)}...\n`);
  const r = await runLoad(options);
  const meta = runMeta(ROOT, `node dist/bench/loadgen/cli.js ${process.argv.slice(2).join(' ')}`, options.clientCpus ? `clients pinned to CPUs ${options.clientCpus}` : 'no pinning');
  const md = [
    `# Open-loop gRPC load: ${out ?? 'run'}`,
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${meta.cores} cores, ${meta.pinning}) · Node ${meta.node} · load avg ${meta.loadavg1.toFixed(2)} at the end · \`${meta.command}\``,
    '',
    optionsText(r.options) + '.',
    '',
    ...TABLE_HEAD,
    ...tableRows(r),
    '',
    `Client send lag (actual - scheduled send): p50 ${r.sendLag.p50.toFixed(2)} ms, p99 ${r.sendLag.p99.toFixed(2)} ms, max ${r.sendLag.max.toFixed(1)} ms; most calls in flight in one worker: ${r.maxInFlight}.`,
    '',
    LATENCY_NOTE,
    '',
  ].join('\n');
  process.stdout.write(md);
  if (out) {
    if (!/^[\w.-]+$/.test(out)) throw new Error(`--out must be a plain name, got ${out}`);
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, `loadgen-${out}.json`), JSON.stringify({ meta, result: r }, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `loadgen-${out}.md`), md);
    process.stderr.write(`wrote bench/results/loadgen-${out}.{json,md}\n`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
