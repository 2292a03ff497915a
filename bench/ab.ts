// Before/after on this noisy machine: the in-process cascade of two builds
// (two checkouts, each built: dist/ and build/Release), run in interleaved
// pairs (A B, B A, A B, ...) so that slow and fast phases of the machine fall
// on both sides alike, with medians over the pairs.
//
//   node dist/bench/ab.js --a /path/to/old-checkout [--b .] [--workload w2] [--pairs 4]
//        [--calls 1200] [--a-args "..."] [--b-args "..."] [--out NAME]
//
// --a-args / --b-args pass extra bench/cascade.js arguments to one side only
// (--a . --b-args "--ranker-precision fp32" compares one build's settings).
//
// A checkout of an older commit: `git worktree add /tmp/old COMMIT`, link
// node_modules and .data into it, then `npx node-gyp rebuild && npx tsc -p .`
// there. Each run is `node dist/bench/cascade.js --workload W --calls N` of
// that checkout; its printed table is parsed, so older commits work as well.
// With --out NAME writes bench/results/ab-NAME.{json,md}.
import { execFileSync } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { runMeta } from './loadgen/report';

const ROOT = path.join(__dirname, '..', '..');

export interface CascadeNumbers {
  callsPerSecond: number;
  p50Us: number;
  p99Us: number;
  mainCpuUs: number;
  otherCpuUs: number;
  stages: Record<string, number>;
}

/** The numbers of one bench/cascade.js report (its markdown tables). */
export function parseCascadeReport(text: string): CascadeNumbers {
  const lines = text.split('\n');
  const head = lines.findIndex((l) => l.startsWith('| calls/s |'));
  if (head < 0 || head + 2 >= lines.length) throw new Error('no cascade table in the output');
  const cells = lines[head + 2]
    .split('|')
    .slice(1, -1)
    .map((c) => Number(c.trim()));
  if (cells.length < 6 || cells.some((c) => !Number.isFinite(c))) throw new Error(`unreadable cascade row: ${lines[head + 2]}`);
  const stages: Record<string, number> = {};
  const stageHead = lines.findIndex((l) => l.startsWith('| stage |'));
  for (let i = stageHead + 2; stageHead >= 0 && i < lines.length && lines[i].startsWith('|'); i++) {
    const [name, ms] = lines[i].split('|').slice(1, -1).map((c) => c.trim());
    if (name && Number.isFinite(Number(ms))) stages[name] = Number(ms);
  }
  return { callsPerSecond: cells[0], p50Us: cells[1], p99Us: cells[3], mainCpuUs: cells[4], otherCpuUs: cells[5], stages };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function runCascade(dir: string, workload: string, calls: number, extra: string[]): CascadeNumbers {
  const out = execFileSync(process.execPath, [path.join(dir, 'dist', 'bench', 'cascade.js'), '--workload', workload, '--calls', String(calls), ...extra], {
    cwd: dir,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
    maxBuffer: 16 << 20,
  });
  return parseCascadeReport(out);
}

function commitOf(dir: string): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: dir, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      a: { type: 'string' },
      b: { type: 'string', default: '.' },
      workload: { type: 'string', default: 'w2' },
      pairs: { type: 'string', default: '4' },
      calls: { type: 'string', default: '1200' },
      out: { type: 'string' },
      // Extra bench/cascade.js arguments for one side (space-separated), e.g. --b-args "--ranker-precision fp32".
      'a-args': { type: 'string', default: '' },
      'b-args': { type: 'string', default: '' },
    },
  });
  const extra = { a: values['a-args']!.split(' ').filter(Boolean), b: values['b-args']!.split(' ').filter(Boolean) };
  if (!values.a) throw new Error('--a DIR is required (a built checkout to compare with)');
  const dirs = { a: path.resolve(values.a), b: path.resolve(values.b!) };
  for (const d of Object.values(dirs)) {
    if (!existsSync(path.join(d, 'dist', 'bench', 'cascade.js'))) throw new Error(`${d} has no dist/bench/cascade.js: build it first`);
  }
  const pairs = Number(values.pairs);
  const calls = Number(values.calls);
  if (!Number.isInteger(pairs) || pairs < 1) throw new Error('--pairs must be an integer >= 1');
  if (!Number.isInteger(calls) || calls < 50) throw new Error('--calls must be an integer >= 50');
  if (values.out !== undefined && !/^[\w.-]+$/.test(values.out)) throw new Error('--out must be a plain name');
  const workload = values.workload!;

  const runs: { a: CascadeNumbers[]; b: CascadeNumbers[] } = { a: [], b: [] };
  for (let p = 0; p < pairs; p++) {
    for (const side of p % 2 === 0 ? (['a', 'b'] as const) : (['b', 'a'] as const)) {
      const r = runCascade(dirs[side], workload, calls, extra[side]);
      runs[side].push(r);
      console.error(`pair ${p + 1} ${side}: ${r.mainCpuUs + r.otherCpuUs} µs CPU/call (main ${r.mainCpuUs}), p50 ${r.p50Us} µs, ${r.callsPerSecond}/s`);
    }
  }
  const total = (r: CascadeNumbers) => r.mainCpuUs + r.otherCpuUs;
  const metrics: [string, (r: CascadeNumbers) => number][] = [
    ['total CPU µs/call', total],
    ['main-thread CPU µs/call', (r) => r.mainCpuUs],
    ['other threads CPU µs/call', (r) => r.otherCpuUs],
    ['wall p50 µs', (r) => r.p50Us],
    ['wall p99 µs', (r) => r.p99Us],
    ['calls/s', (r) => r.callsPerSecond],
    ...Object.keys(runs.a[0].stages).map((s): [string, (r: CascadeNumbers) => number] => [`stage ${s} ms`, (r) => r.stages[s] ?? NaN]),
  ];
  const meta = { ...runMeta(ROOT, `node dist/bench/ab.js ${process.argv.slice(2).join(' ')}`, 'none (each run in its own process)'), a: { dir: dirs.a, commit: commitOf(dirs.a) }, b: { dir: dirs.b, commit: commitOf(dirs.b) } };
  const rows = metrics.map(([name, get]) => {
    const a = runs.a.map(get);
    const b = runs.b.map(get);
    return { metric: name, a, b, medianA: median(a), medianB: median(b), ratio: median(b) / median(a) };
  });
  const fmt = (x: number, metric: string) => x.toFixed(metric.endsWith(' ms') ? 3 : 0);
  const lines = [
    `# Before/after, ${workload}: ${meta.a.commit} (A) vs ${meta.b.commit} (B)`,
    '',
    `${meta.date} · ${meta.cpu} (${meta.cores} cores) · Node ${meta.node} · load avg ${meta.loadavg1.toFixed(2)} · \`${meta.command}\``,
    '',
    `${pairs} interleaved pairs (A B, B A, ...), ${calls} calls per run, one call at a time (bench/cascade.js).`,
    '',
    '| metric | A runs | B runs | A median | B median | B / A |',
    '|---|---|---|---:|---:|---:|',
    ...rows.map((r) => {
      const g = (x: number) => fmt(x, r.metric);
      return `| ${r.metric} | ${r.a.map(g).join(', ')} | ${r.b.map(g).join(', ')} | ${g(r.medianA)} | ${g(r.medianB)} | ${r.ratio.toFixed(2)} |`;
    }),
  ];
  console.log(lines.join('\n'));
  if (values.out) {
    const dir = path.join(ROOT, 'bench', 'results');
    await fs.mkdir(dir, { recursive: true });
    await fs.writeFile(path.join(dir, `ab-${values.out}.json`), JSON.stringify({ meta, workload, pairs, calls, rows, runs }, null, 2) + '\n');
    await fs.writeFile(path.join(dir, `ab-${values.out}.md`), lines.join('\n') + '\n');
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
