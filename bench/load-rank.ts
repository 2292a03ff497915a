// A short load run of the Rank service on the demo world: the server in its
// own process, a closed-loop gRPC client at a few concurrency levels, and
// autocannon against the JSON gateway. Writes bench/results/load-rank.{json,md}.
// This is the quick check; the open-loop suite with coordinated-omission
// correction belongs to the benchmark suite.
//
//   npm run build && node dist/bench/load-rank.js [--seconds 15] [--concurrency 1,4,16]
import { spawn, ChildProcess, execFileSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';

import { RankingClient, RankRequest } from '../src/client';

const ROOT = path.join(__dirname, '..', '..');
const GRPC_PORT = 50151;
const HTTP_PORT = 8151;

async function waitHealthy(server: ChildProcess): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < 300_000) {
    if (server.exitCode !== null) throw new Error(`server exited with ${server.exitCode}`);
    try {
      const r = await fetch(`http://127.0.0.1:${HTTP_PORT}/healthz`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error('server did not become healthy in 5 minutes');
}

function userReq(i: number): RankRequest {
  return { user_id: `user-${String(i % 10_000).padStart(6, '0')}`, context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' }, num_results: 20 };
}

async function grpcRun(client: RankingClient, concurrency: number, seconds: number, warmup: number) {
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  let ok = 0;
  let errors = 0;
  let n = 0;
  const tStart = Date.now();
  const tMeasure = tStart + warmup * 1000;
  const tEnd = tMeasure + seconds * 1000;
  const loop = async () => {
    while (Date.now() < tEnd) {
      const t0 = process.hrtime.bigint();
      const err = await client.rank(userReq(n++), { deadline: Date.now() + 5000 }).then(() => null, (e: grpc.ServiceError) => e);
      if (Date.now() < tMeasure) continue;
      if (err) errors++;
      else {
        ok++;
        h.recordValue(Number(process.hrtime.bigint() - t0) / 1000);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const q = (p: number) => h.getValueAtPercentile(p) / 1000;
  return { concurrency, seconds, ok, errors, throughput: ok / seconds, p50: q(50), p90: q(90), p99: q(99), max: h.maxValue / 1000 };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string' }, concurrency: { type: 'string' } } });
  const seconds = Number(values.seconds ?? 15);
  const levels = (values.concurrency ?? '1,4,16').split(',').map(Number);
  const server = spawn(process.execPath, [path.join(ROOT, 'dist', 'src', 'main.js'), '--grpc-port', String(GRPC_PORT), '--http-port', String(HTTP_PORT), '--host', '127.0.0.1', '--log-level', 'warn'], {
    cwd: ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  try {
    await waitHealthy(server);
    const client = new RankingClient(`127.0.0.1:${GRPC_PORT}`);
    const grpcResults = [];
    for (const c of levels) {
      process.stderr.write(`gRPC closed loop, concurrency ${c}, ${seconds} s...\n`);
      grpcResults.push(await grpcRun(client, c, seconds, 3));
    }
    client.close();
    process.stderr.write(`autocannon POST /v1/rank, 8 connections, ${seconds} s...\n`);
    let k = 0;
    const ac = await autocannon({
      url: `http://127.0.0.1:${HTTP_PORT}/v1/rank`,
      method: 'POST',
      connections: 8,
      duration: seconds,
      headers: { 'content-type': 'application/json' },
      requests: [{ setupRequest: (req) => ({ ...req, body: JSON.stringify(userReq(k++)) }) }],
    });
    const http = { connections: 8, seconds, throughput: ac.requests.average, p50: ac.latency.p50, p90: ac.latency.p90, p99: ac.latency.p99, errors: ac.errors, non2xx: ac.non2xx };
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
    const cpu = /model name\s*:\s*(.*)/.exec(await fs.readFile('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown';
    const meta = { date: new Date().toISOString(), commit, cpu, cores: os.cpus().length, node: process.version, command: `node dist/bench/load-rank.js --seconds ${seconds} --concurrency ${levels.join(',')}`, loadavg: os.loadavg()[0] };
    const out = path.join(ROOT, 'bench', 'results');
    await fs.mkdir(out, { recursive: true });
    await fs.writeFile(path.join(out, 'load-rank.json'), JSON.stringify({ meta, grpc: grpcResults, http }, null, 2) + '\n');
    const md = [
      '# Rank service load run (demo world, 100k items)',
      '',
      `${meta.date} · commit \`${commit}\` · ${cpu} (${meta.cores} cores, shared by server and client, no pinning) · Node ${meta.node} · \`${meta.command}\``,
      '',
      'Default request: home surface, 20 results, K = 1000 retrieved + 50 fresh, HAP budget 20%, M = 200 ranked, DPP, epsilon-greedy exploration. Closed loop: latencies are per call after 3 s of warm-up; a closed loop hides queueing beyond its concurrency.',
      '',
      '| client | concurrency | calls/s | p50 ms | p90 ms | p99 ms | max ms | errors |',
      '|---|---:|---:|---:|---:|---:|---:|---:|',
      ...grpcResults.map((r) => `| grpc-js | ${r.concurrency} | ${r.throughput.toFixed(0)} | ${r.p50.toFixed(2)} | ${r.p90.toFixed(2)} | ${r.p99.toFixed(2)} | ${r.max.toFixed(1)} | ${r.errors} |`),
      `| autocannon (HTTP JSON) | ${http.connections} | ${http.throughput.toFixed(0)} | ${http.p50} | ${http.p90} | ${http.p99} | | ${http.errors + http.non2xx} |`,
      '',
    ].join('\n');
    await fs.writeFile(path.join(out, 'load-rank.md'), md);
    process.stdout.write(md);
  } finally {
    server.kill('SIGTERM');
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
