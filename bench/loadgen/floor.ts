// The transport floor: what a gRPC call costs before any ranking work, next
// to a real Rank, closed loop at 1, 8 and 32 calls in flight.
//   - bare grpc-js: a server with only the service's proto, Rank answering
//     INVALID_ARGUMENT at once (bench/loadgen/null-server.js);
//   - rejected Rank: the ranking server, a request that fails validation
//     (empty user_id): transport + the service's decode and checks;
//   - Rank: the ranking server, the default request on the demo world.
// Servers are pinned to CPU 0 and this client to CPU 1 when taskset exists.
// Reports calls/s, round-trip p50/p99 and CPU per call on each side (server
// from /proc/PID/stat over the window, client from process.cpuUsage).
//
//   node dist/bench/loadgen/floor.js [--seconds 5] [--out floor]
import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';

import { RankingClient, RankRequest } from '../../src/client';
import { clockTicks } from './client';
import { runMeta } from './report';
import { parseProcStatCpuUs } from './schedule';
import { hasTaskset, startServer } from './server';

const ROOT = path.join(__dirname, '..', '..', '..');
const GRPC_PORT = 50_871;
const HTTP_PORT = 50_872;

interface Row {
  target: string;
  inFlight: number;
  callsPerSecond: number;
  rttMs: { p50: number; p99: number };
  serverCpuUs: number;
  clientCpuUs: number;
  errors: Record<string, number>;
}

async function startNullServer(pin: boolean): Promise<ChildProcess> {
  const args = [path.join(__dirname, 'null-server.js'), String(GRPC_PORT)];
  const child = pin ? spawn('taskset', ['-c', '0', process.execPath, ...args], { stdio: ['ignore', 'pipe', 'inherit'] }) : spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`null server exited with ${code}`)));
  });
  return child;
}

async function measure(target: string, pid: number, request: RankRequest, expectOk: boolean, inFlight: number, seconds: number): Promise<Row> {
  const client = new RankingClient(`127.0.0.1:${GRPC_PORT}`);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const errors: Record<string, number> = {};
  const ticks = clockTicks();
  const one = (record: boolean): Promise<void> =>
    new Promise((resolve) => {
      const t0 = process.hrtime.bigint();
      client.raw.Rank(request, { deadline: Date.now() + 10_000 }, (err) => {
        if (record) {
          hist.recordValue(Math.max(1, Math.round(Number(process.hrtime.bigint() - t0) / 1000)));
          const code = err ? grpc.status[err.code] : 'OK';
          if ((code === 'OK') !== expectOk) errors[code] = (errors[code] ?? 0) + 1;
        }
        resolve();
      });
    });
  const run = async (ms: number, record: boolean): Promise<number> => {
    const end = Date.now() + ms;
    let calls = 0;
    const lane = async (): Promise<void> => {
      while (Date.now() < end) {
        await one(record);
        calls++;
      }
    };
    await Promise.all(Array.from({ length: inFlight }, lane));
    return calls;
  };
  await run(1000, false); // warm-up
  const s0 = parseProcStatCpuUs(readFileSync(`/proc/${pid}/stat`, 'utf8'), ticks);
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const calls = await run(seconds * 1000, true);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  const s1 = parseProcStatCpuUs(readFileSync(`/proc/${pid}/stat`, 'utf8'), ticks);
  client.close();
  return {
    target,
    inFlight,
    callsPerSecond: calls / wallS,
    rttMs: { p50: hist.getValueAtPercentile(50) / 1000, p99: hist.getValueAtPercentile(99) / 1000 },
    serverCpuUs: (s1 - s0) / calls,
    clientCpuUs: (c.user + c.system) / calls,
    errors,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { seconds: { type: 'string', default: '5' }, out: { type: 'string' } } });
  const seconds = Number(values.seconds);
  const pin = hasTaskset();
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const pinning = pin ? 'servers pinned to CPU 0 (taskset -c 0), this client to CPU 1' : 'no pinning';
  const rows: Row[] = [];
  const rank: RankRequest = { user_id: 'user-000001', context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' }, num_results: 20 };
  const rejected: RankRequest = { user_id: '', num_results: 20 };
  const levels = [1, 8, 32];

  const bare = await startNullServer(pin);
  try {
    for (const k of levels) rows.push(await measure('bare grpc-js (INVALID_ARGUMENT at once)', bare.pid!, rejected, false, k, seconds));
  } finally {
    bare.kill('SIGTERM');
  }
  const server = await startServer(ROOT, GRPC_PORT, HTTP_PORT, pin);
  try {
    for (const k of levels) rows.push(await measure('ranking server, rejected Rank (empty user_id)', server.pid!, rejected, false, k, seconds));
    for (const k of levels) rows.push(await measure('ranking server, Rank (demo world, 20 results)', server.pid!, rank, true, k, seconds));
  } finally {
    server.kill('SIGTERM');
  }
  for (const r of rows) console.error(`${r.target}, ${r.inFlight} in flight: ${r.callsPerSecond.toFixed(0)}/s, RTT p50 ${r.rttMs.p50.toFixed(2)} ms p99 ${r.rttMs.p99.toFixed(2)} ms, server ${r.serverCpuUs.toFixed(0)} µs, client ${r.clientCpuUs.toFixed(0)} µs CPU per call`);

  const meta = runMeta(ROOT, `node dist/bench/loadgen/floor.js ${process.argv.slice(2).join(' ')}`.trim(), pinning);
  const result = { ...meta, seconds, rows };
  const md = [
    '# Transport floor: gRPC round trip and CPU per call, closed loop',
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${meta.cores} cores) · ${pinning} · Node ${meta.node} · \`${meta.command}\``,
    '',
    `Each line: 1 s warm-up, then ${seconds} s of calls kept at the given number in flight (closed loop, so these are not open-loop latencies). Server CPU: the server process, all threads, over the window, per call. Errors: calls that did not end as expected (OK for Rank, INVALID_ARGUMENT for the others).`,
    '',
    '| target | in flight | calls/s | RTT p50 ms | RTT p99 ms | server CPU µs/call | client CPU µs/call | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.target} | ${r.inFlight} | ${r.callsPerSecond.toFixed(0)} | ${r.rttMs.p50.toFixed(2)} | ${r.rttMs.p99.toFixed(2)} | ${r.serverCpuUs.toFixed(0)} | ${r.clientCpuUs.toFixed(0)} | ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ') || '0'} |`),
    '',
  ].join('\n');
  console.log(md);
  if (values.out) {
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.writeFile(path.join(dir, `loadgen-${values.out}.json`), JSON.stringify(result, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `loadgen-${values.out}.md`), md);
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
