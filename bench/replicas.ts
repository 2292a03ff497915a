// Replicas behind nginx on this machine, W2 through gRPC with user state and
// catalog changes in Redis: one replica called directly, one replica behind
// nginx, and two replicas behind nginx (deploy/nginx-grpc.conf), in turn
// (A B C, then C B A, ...). Per run: an open loop at --rate (CPU per Rank of
// every process of the deployment: replicas, nginx, redis-server; p50/p99),
// then an open loop well past saturation (the OK rate achieved). Nothing is
// pinned: the replicas, nginx, Redis and the load generator share the
// machine's cores, as they would on one host. Writes
// bench/results/replicas.{json,md}.
//
//   node dist/bench/replicas.js [--rounds 2] [--rate 100] [--overload 600] [--duration 10]
import { ChildProcess, execFileSync } from 'node:child_process';
import { promises as fs, readFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { startNginx } from '../test/api/nginx';
import { freePort } from '../test/ports';
import { startRedis } from '../test/state/redis-server';
import { ensureWorld } from '../tools/world/cache';
import { workloadBundle, WORKLOADS } from './cascade';
import { clockTicks, DEFAULT_LOAD, LoadResult, runLoad } from './loadgen/client';
import { runMeta } from './loadgen/report';
import { parseProcStatCpuUs } from './loadgen/schedule';
import { startServer } from './loadgen/server';

const ROOT = path.join(__dirname, '..', '..');
type Config = '1 replica, direct' | '1 replica behind nginx' | '2 replicas behind nginx';
const CONFIGS: Config[] = ['1 replica, direct', '1 replica behind nginx', '2 replicas behind nginx'];

interface Run {
  config: Config;
  round: number;
  /** CPU per OK Rank at --rate, µs, by process kind. */
  cpuUs: { replicas: number; nginx: number; redis: number; total: number };
  p50Ms: number;
  p99Ms: number;
  saturationPerS: number;
  /** Share of the OK calls at --rate each replica served. */
  spread: number[];
}

/** The process and its children (nginx's worker), CPU in µs. */
function cpuOf(pids: number[], ticks: number): number {
  let us = 0;
  for (const pid of pids) {
    try {
      us += parseProcStatCpuUs(readFileSync(`/proc/${pid}/stat`, 'utf8'), ticks);
    } catch {
      // gone
    }
  }
  return us;
}

const childrenOf = (pid: number): number[] => {
  try {
    return execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
};

async function ranksServed(httpPort: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  return Number(/^ranking_requests_total\{method="Rank",code="OK"\} (\d+)$/m.exec(text)?.[1] ?? 0);
}

async function runConfig(config: Config, round: number, serverArgs: string[], o: { rate: number; overload: number; duration: number; users: number; items: number; numResults: number }): Promise<Run> {
  const ticks = clockTicks();
  const redis = (await startRedis())!;
  const replicas = config.startsWith('2') ? 2 : 1;
  const servers: { proc: ChildProcess; grpc: number; http: number }[] = [];
  const lb: { port: number; pid: number; stop(): Promise<void> }[] = [];
  try {
    for (let i = 0; i < replicas; i++) {
      const [grpc, http] = [await freePort(), await freePort()];
      const flags = [...serverArgs, '--user-store', redis.url, '--catalog-stream', redis.url, '--threads', '1'];
      servers.push({ proc: await startServer(ROOT, grpc, http, false, flags), grpc, http });
    }
    const target = config === '1 replica, direct' ? servers[0].grpc : (lb.push((await startNginx(servers.map((s) => s.grpc)))!), lb[0].port);
    const load = (rate: number, durationS: number, warmupS: number): Promise<LoadResult> =>
      runLoad({ ...DEFAULT_LOAD, target: `127.0.0.1:${target}`, rate, durationS, warmupS, users: o.users, items: o.items, numResults: o.numResults });
    await load(o.rate, 3, 0); // warm: connections, JIT, caches
    const pids = {
      replicas: servers.map((s) => s.proc.pid!),
      nginx: lb.length > 0 ? [lb[0].pid, ...childrenOf(lb[0].pid)] : [],
      redis: [redis.pid!],
    };
    const c0 = { replicas: cpuOf(pids.replicas, ticks), nginx: cpuOf(pids.nginx, ticks), redis: cpuOf(pids.redis, ticks) };
    const served0 = await Promise.all(servers.map((s) => ranksServed(s.http)));
    const steady = await load(o.rate, o.duration, 0);
    const c1 = { replicas: cpuOf(pids.replicas, ticks), nginx: cpuOf(pids.nginx, ticks), redis: cpuOf(pids.redis, ticks) };
    const served = (await Promise.all(servers.map((s) => ranksServed(s.http)))).map((n, i) => n - served0[i]);
    const rank = steady.methods.Rank!;
    const per = (k: keyof typeof c0) => (c1[k] - c0[k]) / Math.max(1, rank.ok);
    const cpuUs = { replicas: per('replicas'), nginx: per('nginx'), redis: per('redis'), total: 0 };
    cpuUs.total = cpuUs.replicas + cpuUs.nginx + cpuUs.redis;
    const over = await load(o.overload, 5, 1);
    const total = served.reduce((a, b) => a + b, 0);
    return { config, round, cpuUs, p50Ms: rank.latency.p50, p99Ms: rank.latency.p99, saturationPerS: over.methods.Rank?.achievedRate ?? NaN, spread: served.map((n) => n / Math.max(1, total)) };
  } finally {
    await lb[0]?.stop();
    for (const s of servers) {
      s.proc.kill('SIGTERM');
      await new Promise((r) => (s.proc.exitCode !== null ? r(null) : s.proc.once('exit', r)));
    }
    await redis.stop();
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '2' },
      rate: { type: 'string', default: '100' },
      overload: { type: 'string', default: '600' },
      duration: { type: 'string', default: '10' },
    },
  });
  const spec = WORKLOADS.w2;
  const paths = await ensureWorld(path.join(ROOT, spec.world.dir), spec.world.config, (m) => process.stderr.write(m + '\n'));
  const serverArgs = ['--bundle', await workloadBundle(spec, paths.bundle), '--events', paths.events];
  const o = { rate: Number(values.rate), overload: Number(values.overload), duration: Number(values.duration), users: spec.world.config.users, items: spec.world.config.items, numResults: spec.numResults };
  const runs: Run[] = [];
  for (let r = 0; r < Number(values.rounds); r++) {
    for (const config of r % 2 === 0 ? CONFIGS : [...CONFIGS].reverse()) {
      const run = await runConfig(config, r, serverArgs, o);
      runs.push(run);
      process.stderr.write(`round ${r + 1} ${config}: ${run.cpuUs.total.toFixed(0)} µs CPU/Rank (replicas ${run.cpuUs.replicas.toFixed(0)}, nginx ${run.cpuUs.nginx.toFixed(0)}, redis ${run.cpuUs.redis.toFixed(0)}), p50 ${run.p50Ms.toFixed(2)} ms, p99 ${run.p99Ms.toFixed(2)} ms, saturation ${run.saturationPerS.toFixed(0)}/s\n`);
    }
  }
  const meta = runMeta(ROOT, `node dist/bench/replicas.js ${process.argv.slice(2).join(' ')}`, 'no pinning: every process shares the cores');
  const med = (c: Config, get: (r: Run) => number) => median(runs.filter((r) => r.config === c).map(get));
  const rows = CONFIGS.map((c) => {
    const spread = runs.filter((r) => r.config === c)[0].spread.map((s) => `${(100 * s).toFixed(0)}%`).join(' / ');
    return `| ${c} | ${med(c, (r) => r.cpuUs.replicas).toFixed(0)} | ${med(c, (r) => r.cpuUs.nginx).toFixed(0)} | ${med(c, (r) => r.cpuUs.redis).toFixed(0)} | ${med(c, (r) => r.cpuUs.total).toFixed(0)} | ${med(c, (r) => r.p50Ms).toFixed(2)} | ${med(c, (r) => r.p99Ms).toFixed(2)} | ${med(c, (r) => r.saturationPerS).toFixed(0)} | ${spread} |`;
  });
  const md = [
    '# Replicas behind nginx on one machine (W2 through gRPC, state in Redis)',
    '',
    `${meta.date} · ${meta.cpu} (${os.availableParallelism()} cores) · Node ${meta.node} · ${meta.pinning} · \`${meta.command}\``,
    '',
    `Every configuration with \`--user-store\` and \`--catalog-stream\` on one redis-server, \`--threads 1\` per replica. CPU per OK Rank at ${o.rate}/s from /proc of every process; saturation = OK Rank/s under an open loop at ${o.overload}/s. ${values.rounds} rounds, alternating order, medians.`,
    '',
    '| configuration | replicas µs/Rank | nginx µs/Rank | redis µs/Rank | total µs/Rank | p50 ms | p99 ms | saturation Rank/s | calls per replica |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---|',
    ...rows,
    '',
  ].join('\n');
  const out = path.join(ROOT, 'bench', 'results', 'replicas');
  await fs.writeFile(`${out}.json`, JSON.stringify({ meta, options: o, runs }, null, 2));
  await fs.writeFile(`${out}.md`, md);
  process.stdout.write(md);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
