// Latency vs offered load: starts the server on the demo world, runs the
// open-loop generator at several offered rates, estimates the saturation
// throughput, and writes bench/results/loadgen-NAME.{json,md,svg}.
// When `taskset` exists the server is pinned to CPU 0 and the load workers to
// CPU 1 (--no-pin to share both cores), so client and server don't steal
// each other's core.
//
//   node dist/bench/loadgen/sweep.js [--rates 50,100,200,300] [--duration 10] [--warmup 3]
//        [--workers 2] [--mix rank] [--p99-limit-ms 50] [--no-pin] [--out sweep]
//        [--workload w1|w2] [--server-args="--inline-max-slices 1 ..."]
//
// --workload w2 serves the 1M-item world through the W2 index (as
// bench/cascade.js --workload w2) and asks for 50 results per call;
// --server-args passes flags to the server (before/after of a setting).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { WORKLOADS, workloadBundle } from '../cascade';
import { ensureWorld } from '../../tools/world/cache';
import { DEFAULT_LOAD, LoadResult, Mix, runLoad } from './client';
import { CurvePoint, LATENCY_NOTE, latencySvg, optionsText, runMeta, TABLE_HEAD, tableRows } from './report';
import { hasTaskset, startServer } from './server';

const ROOT = path.join(__dirname, '..', '..', '..');

export interface SaturationCriteria {
  p99LimitMs: number;
  /** Achieved / offered at least this. */
  minAchievedRatio: number;
  /** Errors / calls at most this. */
  maxErrorRatio: number;
}

export function rankPoint(r: LoadResult): CurvePoint & { ok: boolean; errorRatio: number } {
  const m = r.methods.Rank;
  const errs = m ? Object.values(m.errors).reduce((a, b) => a + b, 0) : 0;
  return {
    offered: r.offeredRate,
    achieved: r.achievedRate,
    p50: m?.latency.p50 ?? NaN,
    p99: m?.latency.p99 ?? NaN,
    ok: !!m,
    errorRatio: m && m.calls > 0 ? errs / m.calls : 1,
  };
}

/** The highest offered rate whose p99, achieved rate and errors all pass (undefined if none). */
export function saturationEstimate(points: { offered: number; achieved: number; p99: number; errorRatio: number }[], c: SaturationCriteria): number | undefined {
  let best: number | undefined;
  for (const p of points) {
    const pass = Number.isFinite(p.p99) && p.p99 < c.p99LimitMs && p.achieved >= c.minAchievedRatio * p.offered && p.errorRatio <= c.maxErrorRatio;
    if (pass && (best === undefined || p.offered > best)) best = p.offered;
  }
  return best;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rates: { type: 'string', default: '50,100,200,300' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      workers: { type: 'string', default: '2' },
      mix: { type: 'string', default: 'rank' },
      'p99-limit-ms': { type: 'string', default: '50' },
      'grpc-port': { type: 'string', default: '50161' },
      'http-port': { type: 'string', default: '8161' },
      'no-pin': { type: 'boolean', default: false },
      out: { type: 'string', default: 'sweep' },
      workload: { type: 'string', default: 'w1' },
      'server-args': { type: 'string', default: '' },
    },
  });
  const rates = values.rates!.split(',').map(Number);
  if (rates.some((r) => !(r > 0))) throw new Error(`bad --rates ${values.rates}`);
  const mix = values.mix as Mix;
  if (mix !== 'rank' && mix !== 'rank+events') throw new Error(`--mix must be rank or rank+events`);
  if (!/^[\w.-]+$/.test(values.out!)) throw new Error(`--out must be a plain name`);
  const criteria: SaturationCriteria = { p99LimitMs: Number(values['p99-limit-ms']), minAchievedRatio: 0.95, maxErrorRatio: 0.001 };
  const grpcPort = Number(values['grpc-port']);
  const httpPort = Number(values['http-port']);
  const pin = !values['no-pin'] && hasTaskset();
  const pinning = pin ? 'server pinned to CPU 0 (taskset -c 0), load workers to CPU 1 (taskset -c 1)' : 'no pinning (server and load workers share all cores)';

  const workload = values.workload!;
  if (workload !== 'w1' && workload !== 'w2') throw new Error('--workload must be w1 or w2');
  const spec = WORKLOADS[workload];
  const serverArgs = values['server-args']!.split(' ').filter((a) => a !== '');
  let world = 'demo world, 100k items';
  if (workload === 'w2') {
    const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => process.stderr.write(m + '\n'));
    serverArgs.unshift('--bundle', await workloadBundle(spec, paths.bundle), '--events', paths.events);
    world = `W2: ${spec.world.config.items} items, ${spec.index!.factory} at nprobe ${spec.index!.nprobe}`;
  }
  const server = await startServer(ROOT, grpcPort, httpPort, pin, serverArgs);
  const results: LoadResult[] = [];
  try {
    for (const rate of rates) {
      const options = {
        ...DEFAULT_LOAD,
        items: spec.world.config.items,
        users: spec.world.config.users,
        numResults: spec.numResults,
        target: `127.0.0.1:${grpcPort}`,
        rate,
        durationS: Number(values.duration),
        warmupS: Number(values.warmup),
        workers: Number(values.workers),
        mix,
        serverPid: server.pid,
        clientCpus: pin ? '1' : undefined,
      };
      process.stderr.write(`open loop ${rate}/s: ${optionsText(options)}...\n`);
      const r = await runLoad(options);
      results.push(r);
      const p = rankPoint(r);
      process.stderr.write(`  achieved ${p.achieved.toFixed(1)}/s, p50 ${p.p50.toFixed(2)} ms, p99 ${p.p99.toFixed(2)} ms\n`);
      await new Promise((res) => setTimeout(res, 1000)); // let queues drain between rates
    }
  } finally {
    server.kill('SIGTERM');
  }

  const points = results.map(rankPoint);
  const saturation = saturationEstimate(points, criteria);
  const argv = process.argv
    .slice(2)
    .map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))
    .join(' ');
  const meta = runMeta(ROOT, `node dist/bench/loadgen/sweep.js${argv ? ' ' + argv : ''}`, pinning);
  const satText =
    saturation === undefined
      ? `no offered rate met p99 < ${criteria.p99LimitMs} ms with achieved >= 95% of offered (saturation is below ${Math.min(...rates)}/s)`
      : `**${saturation} Rank calls/s**: the highest offered rate with p99 < ${criteria.p99LimitMs} ms, achieved >= 95% of offered and errors <= 0.1% (resolution: the rates tried)`;
  const md = [
    `# Open-loop gRPC latency vs offered load (${world})`,
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${meta.cores} cores; ${pinning}) · Node ${meta.node} · load avg ${meta.loadavg1.toFixed(2)} at the end · \`${meta.command}\``,
    '',
    `Each rate: ${optionsText(results[0].options).replace(/ at \d+(\.\d+)?\/s/, '')}. Default request: home surface, mobile, ${spec.numResults} results.${serverArgs.length > 0 ? ` Server flags: \`${serverArgs.join(' ')}\`.` : ''}`,
    '',
    ...TABLE_HEAD,
    ...results.flatMap(tableRows),
    '',
    `Saturation estimate: ${satText}.`,
    '',
    `![p50 and p99 vs offered rate](loadgen-${values.out}.svg)`,
    '',
    LATENCY_NOTE,
    '',
  ].join('\n');
  const dir = path.join(ROOT, 'bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.json`), JSON.stringify({ meta, workload, serverArgs: values['server-args'], criteria, saturation: saturation ?? null, points, runs: results }, null, 2) + '\n');
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.md`), md);
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.svg`), latencySvg(points, `Rank latency vs offered load (${pin ? 'pinned 1+1 cores' : 'shared cores'})`, saturation, criteria.p99LimitMs));
  process.stdout.write(md);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
