// Burst overload: goodput while the excess of a burst is refused. A closed
// loop measures the saturation throughput (OK Rank calls/s with a few calls in
// flight) and the server CPU per served call, before the burst and again
// after it (averaged: on a shared machine the CPU the server gets drifts);
// in between, W waves of C
// Rank calls sent at once, each with a deadline, the next wave once every
// call of the previous one has ended. Reports per wave and in all the OK
// count, the refused count (RESOURCE_EXHAUSTED) and the other failures,
// goodput (OK calls per second of burst) against the saturation throughput,
// and the server CPU per refused call: the burst's server CPU minus what its
// OK calls cost at saturation, over the calls not served.
// When `taskset` exists the server runs on CPU 0 and this client on CPU 1.
//
//   node dist/bench/loadgen/burst.js [--waves 4] [--concurrency 2000] [--deadline-ms 1000]
//        [--saturation-s 5] [--saturation-in-flight 16] [--connections 1] [--no-pin]
//        [--server-dist dist] [--server-args="--max-queue-wait-ms 250 ..."]
//        [--server-node-args="--cpu-prof --cpu-prof-dir=/tmp/prof"] [--out NAME]
//
// --server-dist runs another build of the server (e.g. a copy of dist/ made
// before a change) for a before/after pair; --out NAME writes
// bench/results/loadgen-NAME.{json,md}.
import { execFileSync, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';

import { RankingClient, RankRequest } from '../../src/client';
import { clockTicks } from './client';
import { runMeta } from './report';
import { parseProcStatCpuUs } from './schedule';
import { hasTaskset, waitHealthy } from './server';

const ROOT = path.join(__dirname, '..', '..', '..');

export interface WaveResult {
  wave: number;
  calls: number;
  ok: number;
  refused: number;
  /** Other outcomes by status name (DEADLINE_EXCEEDED: accepted, or queued in the client, and not served in time). */
  failed: Record<string, number>;
  /** First send to the last call's end, ms. */
  ms: number;
  /** The server's first answer to its last (OK or RESOURCE_EXHAUSTED), ms: the wave without the client's own send time and expiries. */
  answerMs: number;
  /** Latency of the OK calls from their send, ms. */
  okP50: number;
  okP99: number;
  /** Calls answered RESOURCE_EXHAUSTED with a retry-after-ms trailer. */
  retryAfter: number;
}

export interface BurstSummary {
  saturationPerS: number;
  saturationCpuUsPerOk: number;
  waves: WaveResult[];
  ok: number;
  refused: number;
  failed: Record<string, number>;
  burstMs: number;
  goodputPerS: number;
  /** goodput / saturation. */
  goodputRatio: number;
  /** OK calls per second of the server's answering windows, and / saturation. */
  answeringGoodputPerS: number;
  answeringGoodputRatio: number;
  burstServerCpuUs: number;
  /** (burst CPU - OK x CPU per OK at saturation) / calls not served. */
  cpuUsPerRefused: number;
  /** OK x CPU per OK at saturation / burst CPU: the share of the server's CPU in the burst that served calls (1 at saturation). */
  usefulCpuShare: number;
}

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

const statusName = (code: number): string => (grpc.status as unknown as Record<number, string>)[code] ?? `CODE_${code}`;

/** The goodput and the CPU per refused call, from the phases' counts and CPU. */
export function summarize(saturationPerS: number, saturationCpuUsPerOk: number, waves: WaveResult[], burstServerCpuUs: number): BurstSummary {
  const ok = waves.reduce((a, w) => a + w.ok, 0);
  const refused = waves.reduce((a, w) => a + w.refused, 0);
  const failed: Record<string, number> = {};
  for (const w of waves) for (const [k, v] of Object.entries(w.failed)) failed[k] = (failed[k] ?? 0) + v;
  const notServed = waves.reduce((a, w) => a + w.calls - w.ok, 0);
  const burstMs = waves.reduce((a, w) => a + w.ms, 0);
  const goodputPerS = burstMs > 0 ? (ok * 1000) / burstMs : 0;
  const answerMs = waves.reduce((a, w) => a + (Number.isFinite(w.answerMs) ? w.answerMs : 0), 0);
  const answeringGoodputPerS = answerMs > 0 ? (ok * 1000) / answerMs : 0;
  return {
    saturationPerS,
    saturationCpuUsPerOk,
    waves,
    ok,
    refused,
    failed,
    burstMs,
    goodputPerS,
    goodputRatio: saturationPerS > 0 ? goodputPerS / saturationPerS : NaN,
    answeringGoodputPerS,
    answeringGoodputRatio: saturationPerS > 0 ? answeringGoodputPerS / saturationPerS : NaN,
    burstServerCpuUs,
    cpuUsPerRefused: notServed > 0 ? (burstServerCpuUs - ok * saturationCpuUsPerOk) / notServed : NaN,
    usefulCpuShare: burstServerCpuUs > 0 ? (ok * saturationCpuUsPerOk) / burstServerCpuUs : NaN,
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      waves: { type: 'string', default: '4' },
      concurrency: { type: 'string', default: '2000' },
      'deadline-ms': { type: 'string', default: '1000' },
      'saturation-s': { type: 'string', default: '5' },
      'saturation-in-flight': { type: 'string', default: '16' },
      connections: { type: 'string', default: '1' },
      users: { type: 'string', default: '10000' },
      'num-results': { type: 'string', default: '20' },
      'grpc-port': { type: 'string', default: '50181' },
      'http-port': { type: 'string', default: '8181' },
      'no-pin': { type: 'boolean', default: false },
      'server-dist': { type: 'string', default: 'dist' },
      'server-args': { type: 'string', default: '' },
      'server-node-args': { type: 'string', default: '' },
      out: { type: 'string' },
    },
  });
  const n = (k: keyof typeof values): number => {
    const v = Number(values[k]);
    if (!Number.isFinite(v) || v <= 0) throw new Error(`--${k} must be a positive number, got ${String(values[k])}`);
    return v;
  };
  const W = n('waves');
  const C = n('concurrency');
  const deadlineMs = n('deadline-ms');
  const satS = n('saturation-s');
  const satInFlight = n('saturation-in-flight');
  const connections = n('connections');
  const users = n('users');
  const numResults = n('num-results');
  const grpcPort = n('grpc-port');
  const httpPort = n('http-port');
  if (values.out !== undefined && !/^[\w.-]+$/.test(values.out)) throw new Error('--out must be a plain name');
  const pin = !values['no-pin'] && hasTaskset();
  const serverArgs = values['server-args']!.split(' ').filter((a) => a !== '');

  const main = path.join(ROOT, values['server-dist']!, 'src', 'main.js');
 const nodeArgs = values['server-node-args']!.split(' ').filter((a) => a !== '');
  const args = [...nodeArgs, main, '--grpc-port', String(grpcPort), '--http-port', String(httpPort), '--host', '127.0.0.1', '--log-level', 'warn', ...serverArgs];
  const opts = { cwd: ROOT, stdio: ['ignore', 'inherit', 'inherit'] as ('ignore' | 'inherit')[] };
  const server = pin ? spawn('taskset', ['-c', '0', process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
  if (pin) execFileSync('taskset', ['-a', '-p', '-c', '1', String(process.pid)], { stdio: 'ignore' });
  const ticks = clockTicks();
  const cpuUs = async (): Promise<number> => parseProcStatCpuUs(await fs.readFile(`/proc/${server.pid}/stat`, 'utf8'), ticks);
  const clients: RankingClient[] = [];
  let summary: BurstSummary;
  const serverCodes: Record<string, number> = {};
  const satRuns: { ok: number; ms: number; cpu: number }[] = [];
  try {
    await waitHealthy(server, httpPort, 120_000);
    for (let i = 0; i < connections; i++) {
      // A local subchannel pool per client: one HTTP/2 connection each.
      const c = new RankingClient(`127.0.0.1:${grpcPort}`, { channelOptions: { 'grpc.use_local_subchannel_pool': 1 } });
      await new Promise<void>((res, rej) => c.raw.waitForReady(Date.now() + 10_000, (e) => (e ? rej(e) : res())));
      clients.push(c);
    }
    const reqs = Array.from({ length: users }, (_, i): RankRequest => ({
      user_id: `user-${String(i).padStart(6, '0')}`,
      context: { surface: 'SURFACE_HOME', device: 'DEVICE_MOBILE' },
      num_results: numResults,
    }));
    let seq = 0;
    const call = (timeoutMs: number): Promise<{ code: number; ms: number; end: number; retryAfter: boolean }> =>
      new Promise((resolve) => {
        const t0 = performance.now();
        const k = seq++;
        clients[k % clients.length].raw.Rank(reqs[k % users], { deadline: Date.now() + timeoutMs }, (err) => {
          if (err && err.code === grpc.status.INTERNAL) process.stderr.write(`INTERNAL: ${err.details}\n`);
          const end = performance.now();
          resolve({ code: err ? err.code : grpc.status.OK, ms: end - t0, end, retryAfter: (err?.metadata?.get('retry-after-ms').length ?? 0) > 0 });
        });
      });
    const closedLoop = async (seconds: number): Promise<number> => {
      const until = performance.now() + seconds * 1000;
      let ok = 0;
      await Promise.all(
        Array.from({ length: satInFlight }, async () => {
          while (performance.now() < until) if ((await call(5000)).code === grpc.status.OK) ok++;
        }),
      );
      return ok;
    };
    process.stderr.write(`warm-up 2 s, then ${satS} s closed loop at ${satInFlight} in flight...\n`);
    await closedLoop(2);
    // Saturation is measured before and after the burst and averaged: on a
    // shared machine the CPU left to the server drifts within a run.
    const saturation = async (): Promise<{ ok: number; ms: number; cpu: number }> => {
      const c0 = await cpuUs();
      const t0 = performance.now();
      const ok = await closedLoop(satS);
      const r = { ok, ms: performance.now() - t0, cpu: (await cpuUs()) - c0 };
      process.stderr.write(`  saturation ${((r.ok * 1000) / r.ms).toFixed(1)} OK/s, ${(r.cpu / r.ok).toFixed(0)} µs server CPU per OK call, server CPU ${(r.cpu / 1000 / r.ms).toFixed(2)} cores\n`);
      return r;
    };
    const sat0 = await saturation();
    await new Promise((r) => setTimeout(r, 500));

    const waves: WaveResult[] = [];
    const b0 = await cpuUs();
    for (let w = 1; w <= W; w++) {
      const start = performance.now();
      const outcomes = await Promise.all(Array.from({ length: C }, () => call(deadlineMs)));
      const ms = performance.now() - start;
      const failed: Record<string, number> = {};
      let ok = 0;
      let refused = 0;
      let retryAfter = 0;
      const okMs: number[] = [];
      for (const o of outcomes) {
        if (o.code === grpc.status.OK) {
          ok++;
          okMs.push(o.ms);
        } else if (o.code === grpc.status.RESOURCE_EXHAUSTED) {
          refused++;
          if (o.retryAfter) retryAfter++;
        } else failed[statusName(o.code)] = (failed[statusName(o.code)] ?? 0) + 1;
      }
      // The server's answering window: its first answer to its last (OK or refused).
      const answered = outcomes.filter((o) => o.code === grpc.status.OK || o.code === grpc.status.RESOURCE_EXHAUSTED).map((o) => o.end);
      const answerMs = answered.length > 1 ? Math.max(...answered) - Math.min(...answered) : NaN;
      waves.push({ wave: w, calls: C, ok, refused, failed, ms, answerMs, okP50: pct(okMs, 50), okP99: pct(okMs, 99), retryAfter });
      process.stderr.write(`  wave ${w}: ${ok} OK, ${refused} refused, other ${JSON.stringify(failed)} in ${ms.toFixed(0)} ms\n`);
    }
    const burstCpu = (await cpuUs()) - b0;
    await new Promise((r) => setTimeout(r, 500));
    const sat1 = await saturation();
    satRuns.push(sat0, sat1);
    const ok = sat0.ok + sat1.ok;
    summary = summarize((ok * 1000) / (sat0.ms + sat1.ms), (sat0.cpu + sat1.cpu) / ok, waves, burstCpu);
    // The server's own count of Rank outcomes (all phases), by status.
    const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    for (const m of text.matchAll(/^ranking_requests_total\{method="Rank",code="(\w+)"\} (\d+)/gm)) serverCodes[m[1]] = Number(m[2]);
  } finally {
    for (const c of clients) c.close();
    server.kill('SIGTERM');
  }

  const argv = process.argv
    .slice(2)
    .map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))
    .join(' ');
  const meta = runMeta(ROOT, `node dist/bench/loadgen/burst.js${argv ? ' ' + argv : ''}`, pin ? 'server on CPU 0, client on CPU 1' : 'no pinning');
  const f = (x: number, d = 0) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const s = summary;
  const other = (r: Record<string, number>) =>
    Object.entries(r)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || '0';
  const md = [
    `# Burst overload: ${W} waves of ${C} Rank calls, deadline ${deadlineMs} ms`,
    '',
    `${meta.date} · commit \`${meta.commit}\` · ${meta.cpu} (${meta.cores} cores; ${meta.pinning}) · Node ${meta.node} · load avg ${meta.loadavg1.toFixed(2)} at the end · \`${meta.command}\``,
    '',
    `Server: \`${values['server-dist']}/src/main.js\`${serverArgs.length ? ` with \`${serverArgs.join(' ')}\`` : ''}, demo world, ${connections} HTTP/2 connection(s). Saturation: ${satS} s closed loop at ${satInFlight} calls in flight (after a 2 s warm-up) before the burst and again after it: ${satRuns.map((r) => `${f((r.ok * 1000) / r.ms, 1)} OK/s (server CPU ${f(r.cpu / 1000 / r.ms, 2)} cores)`).join(', then ')}; together **${f(s.saturationPerS, 1)} OK/s**, ${f(s.saturationCpuUsPerOk)} µs of server CPU per OK call.`,
    '',
    '| wave | calls | OK | refused (RESOURCE_EXHAUSTED) | with retry-after-ms | other | wave ms | answering ms | OK p50 ms | OK p99 ms | goodput/s | goodput/s answering |',
    '|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|',
    ...s.waves.map(
      (w) =>
        `| ${w.wave} | ${w.calls} | ${w.ok} | ${w.refused} | ${w.retryAfter} | ${other(w.failed)} | ${f(w.ms)} | ${f(w.answerMs)} | ${f(w.okP50, 1)} | ${f(w.okP99, 1)} | ${f((w.ok * 1000) / w.ms, 1)} | ${f((w.ok * 1000) / w.answerMs, 1)} |`,
    ),
    '',
    `All waves: ${s.ok} OK, ${s.refused} refused, other ${other(s.failed)}; **goodput ${f(s.goodputPerS, 1)} OK/s = ${f(100 * s.goodputRatio)}% of saturation** over the waves (${f(s.answeringGoodputPerS, 1)} OK/s = ${f(100 * s.answeringGoodputRatio)}% over the server's answering windows: a wave also holds the client's own time to send ${C} calls and its calls that expired before the server answered); server CPU over the burst ${f(s.burstServerCpuUs / 1000)} ms (${f(s.burstServerCpuUs / 1000 / s.burstMs, 2)} cores), **${f(100 * s.usefulCpuShare)}% of it serving** (OK calls x CPU per OK call at saturation / burst CPU: the goodput share that does not depend on the CPU other processes leave the server); **CPU per refused call ${f(s.cpuUsPerRefused)} µs** ((burst CPU - OK calls x ${f(s.saturationCpuUsPerOk)} µs) / calls not served; an estimate: serving in a burst may cost a little more or less than at saturation).`,
    '',
    `The server's count of Rank outcomes over the whole run (saturation phase included): ${other(serverCodes)}.`,
    '',
  ].join('\n');
  process.stdout.write(md);
  if (values.out) {
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, `loadgen-${values.out}.json`), JSON.stringify({ meta, serverDist: values['server-dist'], serverArgs: values['server-args'], connections, deadlineMs, saturationRuns: satRuns, summary: s, serverCodes }, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `loadgen-${values.out}.md`), md);
    process.stderr.write(`wrote bench/results/loadgen-${values.out}.{json,md}\n`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
