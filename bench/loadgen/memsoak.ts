// Memory soak: a fixed number of calls (a million by default) through the
// gRPC service, closed loop, mixed Rank + RecordEvents (one event call per
// five Rank calls), while the server's RSS, V8 heap and external memory are
// sampled. The question it answers is "does memory grow with the number of
// calls served", so throughput does not matter here and the server is not
// pinned. Users rotate over a fixed set, and the in-memory event journal is
// bounded small (--max-journal), so per-user state and the journal reach
// their steady-state size early; growth after that is a leak.
//
//   node dist/bench/loadgen/memsoak.js [--calls 1000000] [--concurrency 8] [--users 1000] [--out memsoak]
//
// Writes bench/results/loadgen-<out>.{json,md}: the samples, RSS at call
// checkpoints and the least-squares RSS slope over the second half of the
// run (KiB per 100k calls).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';

import { RankingClient, RankRequest } from '../../src/client';
import { runMeta } from './report';
import { metricSum, rssMiB, startServer } from './server';

const ROOT = path.join(__dirname, '..', '..', '..');

interface Sample {
  /** Seconds since the start of the run. */
  t: number;
  calls: number;
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
}

/** Least-squares slope of y over x. */
export function slope(xs: readonly number[], ys: readonly number[]): number {
  const n = xs.length;
  if (n < 2) return NaN;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i] - mx) * (ys[i] - my);
    sxx += (xs[i] - mx) ** 2;
  }
  return sxx > 0 ? sxy / sxx : NaN;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      calls: { type: 'string', default: '1000000' },
      concurrency: { type: 'string', default: '8' },
      users: { type: 'string', default: '1000' },
      items: { type: 'string', default: '100000' },
      'sample-s': { type: 'string', default: '10' },
      'grpc-port': { type: 'string', default: '50181' },
      'http-port': { type: 'string', default: '8181' },
      out: { type: 'string', default: 'memsoak' },
    },
  });
  const total = Number(values.calls);
  const concurrency = Number(values.concurrency);
  const users = Number(values.users);
  const items = Number(values.items);
  if (!/^[\w.-]+$/.test(values.out!)) throw new Error('--out must be a plain name');
  const grpcPort = Number(values['grpc-port']);
  const httpPort = Number(values['http-port']);
  const server = await startServer(ROOT, grpcPort, httpPort, false, ['--max-journal', '20000']);
  const pid = server.pid!;
  const client = new RankingClient(`127.0.0.1:${grpcPort}`);
  const userIds = Array.from({ length: users }, (_, i) => `user-${String(i).padStart(6, '0')}`);
  const rankReqs = userIds.map((user_id): RankRequest => ({ user_id, context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' }, num_results: 20 }));

  const samples: Sample[] = [];
  const statuses: Record<string, number> = {};
  let done = 0;
  let next = 0;
  let acknowledged = 0;
  const t0 = Date.now();
  const sample = async (): Promise<void> => {
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    samples.push({
      t: (Date.now() - t0) / 1000,
      calls: done,
      rssMiB: rssMiB(pid),
      heapUsedMiB: metricSum(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
      externalMiB: metricSum(text, 'nodejs_external_memory_bytes') / 2 ** 20,
    });
    const s = samples[samples.length - 1];
    process.stderr.write(`${s.t.toFixed(0)} s: ${done} calls, RSS ${s.rssMiB.toFixed(1)} MiB, heap ${s.heapUsedMiB.toFixed(1)} MiB\n`);
  };
  let appliedAtStart = 0;
  try {
    appliedAtStart = metricSum(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), 'ranking_events_ingested_total');
    await sample();
    const timer = setInterval(() => void sample().catch(() => undefined), Number(values['sample-s']) * 1000);
    await new Promise<void>((resolve) => {
      const fire = (): void => {
        if (next >= total) {
          if (done === total) resolve();
          return;
        }
        const k = next++;
        const end = (err: grpc.ServiceError | null, accepted = 0): void => {
          const name = err ? ((grpc.status as unknown as Record<number, string>)[err.code] ?? String(err.code)) : 'OK';
          statuses[name] = (statuses[name] ?? 0) + 1;
          if (!err) acknowledged += accepted;
          done++;
          fire();
        };
        const deadline = Date.now() + 10_000;
        if (k % 6 === 5) {
          const item = `item-${String(Math.floor(Math.random() * items)).padStart(7, '0')}`;
          client.raw.RecordEvents({ events: [{ user_id: userIds[k % users], item_id: item, type: 'ACTION_TYPE_CLICK', timestamp_ms: 0 }] }, { deadline }, (err, res) => end(err, res?.accepted));
        } else client.raw.Rank(rankReqs[k % users], { deadline }, (err) => end(err));
      };
      for (let i = 0; i < concurrency; i++) fire();
    });
    clearInterval(timer);
    await sample();
  } finally {
    client.close();
  }
  const applied = metricSum(await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text(), 'ranking_events_ingested_total') - appliedAtStart;
  server.kill('SIGTERM');

  const wallS = (Date.now() - t0) / 1000;
  const half = samples.filter((s) => s.calls >= total / 2);
  const per100k = (key: 'rssMiB' | 'heapUsedMiB') =>
    (slope(
      half.map((s) => s.calls),
      half.map((s) => s[key]),
    ) *
      1e5 *
      1024) as number;
  const at = (n: number): Sample => samples.find((s) => s.calls >= n) ?? samples[samples.length - 1];
  const checkpoints = [0, 0.1, 0.25, 0.5, 0.75, 1].map((f) => at(Math.round(f * total)));
  const meta = runMeta(ROOT, `node dist/bench/loadgen/memsoak.js ${process.argv.slice(2).join(' ')}`, 'no pinning');
  const result = {
    meta,
    calls: total,
    concurrency,
    users,
    wallS,
    callsPerS: total / wallS,
    statuses,
    eventsAcknowledged: acknowledged,
    eventsApplied: applied,
    rssSlopeKiBPer100kCalls: per100k('rssMiB'),
    heapSlopeKiBPer100kCalls: per100k('heapUsedMiB'),
    checkpoints,
    samples,
  };
  const dir = path.join(ROOT, 'bench', 'results');
  await fs.mkdir(dir, { recursive: true });
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.json`), JSON.stringify(result, null, 2) + '\n');
  const md = [
    '# Memory over a million calls',
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} · ${meta.pinning} · \`${meta.command}\``,
    '',
    `Closed loop, ${concurrency} calls in flight, one RecordEvents call (one event) per five Rank calls, ${users} users in rotation, server journal bounded at 20000 events. ${total} calls in ${(wallS / 60).toFixed(1)} min (${result.callsPerS.toFixed(0)}/s). Statuses: ${Object.entries(statuses)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}. Events acknowledged ${acknowledged}, applied ${applied}.`,
    '',
    '| calls | minutes | RSS MiB | V8 heap used MiB | external MiB |',
    '|---:|---:|---:|---:|---:|',
    ...checkpoints.map((c) => `| ${c.calls} | ${(c.t / 60).toFixed(1)} | ${c.rssMiB.toFixed(1)} | ${c.heapUsedMiB.toFixed(1)} | ${c.externalMiB.toFixed(1)} |`),
    '',
    `Least-squares slope over the second half of the run: RSS ${result.rssSlopeKiBPer100kCalls.toFixed(0)} KiB per 100k calls, V8 heap used ${result.heapSlopeKiBPer100kCalls.toFixed(0)} KiB per 100k calls.`,
    '',
  ].join('\n');
  await fs.writeFile(path.join(dir, `loadgen-${values.out}.md`), md);
  process.stdout.write(md);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
