// The load generator's own CPU cost per call: a short open-loop run against
// the real server (demo world) or against the null server (null-server.ts:
// Rank answers INVALID_ARGUMENT at once, so a high rate costs the server
// little), server pinned to CPU 0 and workers to CPU 1 when taskset exists,
// reading the workers' CPU time and wake-ups per call sent. Each run is
// appended, under its label, to loadgen-client-cost.json in the results
// directory and the markdown table is rewritten from all runs kept there, so
// runs of two commits (e.g. "before" and "after" a change to the client) sit
// side by side.
//
//   node dist/bench/loadgen/client-cost.js --label after [--server real|null] [--rate 200] [--duration 10]
//        [--warmup 3] [--workers 2] [--mix rank] [--repeat 1] [--results bench/results] [--note TEXT]
import { ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { DEFAULT_LOAD, LoadResult, Mix, runLoad } from './client';
import { RunMeta, runMeta } from './report';
import { hasTaskset, startServer } from './server';

const ROOT = path.join(__dirname, '..', '..', '..');
const NAME = 'loadgen-client-cost';

interface CostRun {
  label: string;
  /** What the run measured, beyond the label (e.g. which client code). */
  note?: string;
  meta: RunMeta;
  rate: number;
  mix: Mix;
  workers: number;
  durationS: number;
  sent: number;
  server: 'real' | 'null';
  clientCpuUsPerCall: number;
  clientWakeupsPerCall: number;
  clientCpuMaxUtil: number;
  rankP50: number;
  rankP99: number;
  errors: Record<string, number>;
  serverCpuUsPerRank?: number;
}

function toRun(label: string, note: string | undefined, server: 'real' | 'null', meta: RunMeta, r: LoadResult): CostRun {
  const rank = r.methods.Rank;
  const errors: Record<string, number> = {};
  for (const m of Object.values(r.methods)) for (const [k, v] of Object.entries(m.errors)) errors[k] = (errors[k] ?? 0) + v;
  return {
    label,
    ...(note ? { note } : {}),
    meta,
    rate: r.options.rate,
    mix: r.options.mix,
    workers: r.options.workers,
    durationS: r.options.durationS,
    sent: r.sent,
    server,
    clientCpuUsPerCall: r.clientCpuUsPerCall,
    clientWakeupsPerCall: r.clientWakeupsPerCall,
    clientCpuMaxUtil: r.clientCpuMaxUtil,
    rankP50: rank?.latency.p50 ?? NaN,
    rankP99: rank?.latency.p99 ?? NaN,
    errors,
    serverCpuUsPerRank: r.serverCpuUsPerRank,
  };
}

async function startNullServer(port: number, pin: boolean): Promise<ChildProcess> {
  const args = [path.join(__dirname, 'null-server.js'), String(port)];
  const opts = { stdio: ['ignore', 'pipe', 'inherit'] as ('ignore' | 'pipe' | 'inherit')[] };
  const child = pin ? spawn('taskset', ['-c', '0', process.execPath, ...args], opts) : spawn(process.execPath, args, opts);
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => (d.toString().includes('ready') ? resolve() : undefined));
    child.on('exit', (code) => reject(new Error(`null server exited with ${code}`)));
  });
  return child;
}

const f = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(d));

function markdown(runs: CostRun[]): string {
  return [
    '# Load generator: client CPU per call',
    '',
    'Open-loop runs, one row per run, against the real server (`node dist/src/main.js`, demo world) or the null server (`bench/loadgen/null-server.ts`: Rank answers INVALID_ARGUMENT at once). **Client CPU per call** is the load workers\' CPU time (user + system, all workers, from the start of the schedule to the last answer, warm-up included) divided by the calls they sent; it is CPU the server cannot use on a 2-core machine. **Wake-ups per call**: the workers\' voluntary context switches per call (each costs CPU of its own, whatever the client does once awake). Latency is from the scheduled send (coordinated-omission corrected).',
    '',
    '| label | date | commit | command | pinning | server | rate /s | mix | workers | s measured | calls sent | **client CPU µs/call** | wake-ups/call | busiest worker CPU util | Rank p50 ms | Rank p99 ms | server CPU µs/OK Rank | errors | load avg |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${r.meta.date} | \`${r.meta.commit}\` | \`${r.meta.command}\` | ${r.meta.pinning} | ${r.server} | ${r.rate} | ${r.mix} | ${r.workers} | ${r.durationS} | ${r.sent} | **${f(r.clientCpuUsPerCall, 0)}** | ${f(r.clientWakeupsPerCall)} | ${f(r.clientCpuMaxUtil, 3)} | ${f(r.rankP50)} | ${f(r.rankP99)} | ${f(r.serverCpuUsPerRank, 0)} | ${Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} | ${f(r.meta.loadavg1)} |`,
    ),
    '',
    ...[...new Map(runs.filter((r) => r.note).map((r) => [r.label, r.note])).entries()].map(([l, n]) => `- **${l}**: ${n}`),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      label: { type: 'string' },
      rate: { type: 'string', default: '200' },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '3' },
      workers: { type: 'string', default: String(DEFAULT_LOAD.workers) },
      mix: { type: 'string', default: 'rank' },
      repeat: { type: 'string', default: '1' },
      'grpc-port': { type: 'string', default: '50191' },
      'http-port': { type: 'string', default: '8191' },
      server: { type: 'string', default: 'real' },
      results: { type: 'string', default: path.join(ROOT, 'bench', 'results') },
      note: { type: 'string' },
    },
  });
  const kind = values.server;
  if (kind !== 'real' && kind !== 'null') throw new Error(`--server must be real or null, got ${kind}`);
  const label = values.label;
  if (!label || !/^[\w.+-]+$/.test(label)) throw new Error('--label NAME is required (letters, digits, . + -)');
  const mix = values.mix as Mix;
  if (mix !== 'rank' && mix !== 'rank+events') throw new Error(`--mix must be rank or rank+events, got ${mix}`);
  const pin = hasTaskset();
  const server = kind === 'real' ? await startServer(ROOT, Number(values['grpc-port']), Number(values['http-port']), pin) : await startNullServer(Number(values['grpc-port']), pin);
  const argv = process.argv
    .slice(2)
    .map((x) => (/[\s"]/.test(x) ? JSON.stringify(x) : x))
    .join(' ');
  const command = `node dist/bench/loadgen/client-cost.js ${argv}`;
  const runs: CostRun[] = [];
  try {
    for (let i = 0; i < Number(values.repeat); i++) {
      const r = await runLoad({
        ...DEFAULT_LOAD,
        target: `127.0.0.1:${values['grpc-port']}`,
        rate: Number(values.rate),
        durationS: Number(values.duration),
        warmupS: Number(values.warmup),
        workers: Number(values.workers),
        mix,
        serverPid: server.pid,
        clientCpus: pin ? '1' : undefined,
      });
      const run = toRun(label, values.note, kind, runMeta(ROOT, command, pin ? 'server on CPU 0, load workers on CPU 1' : 'no pinning'), r);
      process.stderr.write(`${label}: ${run.sent} calls, client CPU ${f(run.clientCpuUsPerCall, 0)} µs/call, ${f(run.clientWakeupsPerCall)} wake-ups/call, Rank p99 ${f(run.rankP99)} ms\n`);
      runs.push(run);
    }
  } finally {
    server.kill('SIGTERM');
  }
  const dir = path.resolve(values.results!);
  await fs.mkdir(dir, { recursive: true });
  const jsonPath = path.join(dir, `${NAME}.json`);
  let kept: CostRun[] = [];
  try {
    kept = (JSON.parse(await fs.readFile(jsonPath, 'utf8')) as { runs: CostRun[] }).runs;
  } catch {
    // first run
  }
  const all = [...kept, ...runs];
  await fs.writeFile(jsonPath, JSON.stringify({ runs: all }, null, 2) + '\n');
  await fs.writeFile(path.join(dir, `${NAME}.md`), markdown(all));
  process.stderr.write(`wrote ${path.join(dir, NAME)}.{json,md}\n`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
