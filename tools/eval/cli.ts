// `npm run eval -- [--users 300] [--world 100k|1m | --items N] [--out DIR] [--seed 1] [--threads 1] [--root DIR] [--bundle DIR] [--loop LOGS]`:
// ranks a sample of users through the engine's gRPC API and scores every list
// against the demo world's ground truth; writes report.json, report.md and SVG
// plots into .data/eval/ (untracked; another world's into .data/eval/world-X/)
// unless --out names a directory (docs/quality for the published report).
//
// --world 1m: the 1M-item world of the native benchmarks (1,000,000 items,
// dim 64, IVF4096 index); reused from .data/bench-worlds/world-1000000 when
// that directory holds exactly this world, else generated into
// .data/eval-world-1m (minutes, and about 1 GB on disk).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { DcnPrecision } from '../../src/native/dcn-precision';
import { GENERATOR_VERSION } from '../world/generate';
import { DEFAULT_WORLD, WorldConfig } from '../world/schema';
import { REDUCED_PRECISIONS } from './precision';
import { precisionCpuLine, precisionTable, writeReport } from './report';
import { LOOP_DEFAULTS, runLoop, writeLoopReport } from './loop';
import { DEFAULT_BUDGETS, DEFAULT_LAMBDAS, runEval } from './run';

export const USAGE = `usage: npm run eval -- [options]

Ranks a sample of users through the engine's gRPC API and scores every list
against the demo world's ground truth; writes report.json, report.md and SVG plots.

options:
  --users N        users to rank (default 300)
  --world NAME     a named world: 100k (the demo world, default) or 1m
  --items N        a demo-like world of N items (exclusive with --world)
  --out DIR        where the report goes (default .data/eval, or .data/eval/world-NAME
                   for another world; the published report: --out docs/quality)
  --seed N         sampling seed (default 1)
  --threads N      scoring workers per engine (default 1)
  --root DIR       the world's directory (default: the demo world's cache in .data/)
  --bundle DIR     the bundle to evaluate (default: the world's own), e.g. one written by
                   npm run train from that world's simulated logs
  --precisions L   ranker precisions compared with fp32, comma-separated (int8, bf16,
                   fp32), or none (default ${REDUCED_PRECISIONS.join(',')})
  --loop LOGS      also the learning loop on simulated logs of this world (npm run
                   simulate; simulated into LOGS when it holds none): every model
                   trained before the last day and judged after it, with the ablations
                   (as npm run eval:loop; ~15 min on the demo world); a section of the
                   report and OUT/loop/
  --loop-work DIR  where the loop's trained bundles go (default .data/loop)
  --help, -h       this text`;

function parseArgs(argv: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (!a.startsWith('--')) throw new Error(`unexpected argument ${a}`);
    const [k, v] = a.includes('=') ? [a.slice(2, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a.slice(2), argv[++i]];
    if (v === undefined) throw new Error(`--${k} needs a value`);
    out[k] = v;
  }
  return out;
}

function int(args: Record<string, string>, k: string, dflt: number): number {
  if (args[k] === undefined) return dflt;
  const n = Number(args[k]);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${k} must be a positive integer, got ${args[k]}`);
  return n;
}

/** --precisions: a comma-separated list of int8, bf16 and fp32, or 'none'. */
export function parsePrecisions(v: string | undefined): DcnPrecision[] {
  if (v === undefined) return [...REDUCED_PRECISIONS];
  if (v === 'none') return [];
  const out = v.split(',').map((x) => x.trim());
  for (const x of out) {
    if (x !== 'int8' && x !== 'bf16' && x !== 'fp32') throw new Error(`--precisions must list int8, bf16 or fp32 (or be none), got ${x}`);
  }
  return [...new Set(out as DcnPrecision[])];
}

/** The named worlds of --world. */
export const WORLDS: Record<string, WorldConfig> = {
  '100k': DEFAULT_WORLD,
  '1m': { ...DEFAULT_WORLD, items: 1_000_000, dim: 64 },
};

/** Whether `dir` holds a generated world of exactly this configuration. */
async function holds(dir: string, world: WorldConfig): Promise<boolean> {
  try {
    const have = JSON.parse(await fs.readFile(path.join(dir, 'world.json'), 'utf8')) as unknown;
    return JSON.stringify(have) === JSON.stringify({ generatorVersion: GENERATOR_VERSION, config: world });
  } catch {
    return false;
  }
}

/**
 * Where the report goes: --out when given (docs/quality for the published
 * report), else the untracked .data/eval/ (another world's in
 * .data/eval/world-NAME/). `world`: null for the default world.
 */
export function reportDir(repo: string, out: string | undefined, world: string | null): string {
  if (out !== undefined) return path.resolve(out);
  return path.join(repo, '.data', 'eval', ...(world === null ? [] : [`world-${world}`]));
}

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    console.log(USAGE);
    return;
  }
  const args = parseArgs(process.argv.slice(2));
  const known = new Set(['users', 'items', 'world', 'out', 'seed', 'threads', 'root', 'precisions', 'bundle', 'loop', 'loop-work']);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`unknown option --${k}\n${USAGE}`);
  if (args.world !== undefined && args.items !== undefined) throw new Error('--world and --items are exclusive');
  if (args.world !== undefined && !(args.world in WORLDS)) throw new Error(`--world must be one of ${Object.keys(WORLDS).join(', ')}, got ${args.world}`);
  const repo = path.join(__dirname, '..', '..', '..');
  const world = args.world !== undefined ? WORLDS[args.world] : { ...DEFAULT_WORLD, items: int(args, 'items', DEFAULT_WORLD.items) };
  const items = world.items;
  // The demo world's cache for the default world; another directory for the
  // others (so the demo's is kept); the benchmarks' 1M world when it matches.
  const isDefault = JSON.stringify(world) === JSON.stringify(DEFAULT_WORLD);
  let root = args.root;
  if (root === undefined) {
    if (isDefault) root = path.join(repo, '.data', 'demo-world');
    else if (args.world === '1m') {
      const bench = path.join(repo, '.data', 'bench-worlds', 'world-1000000');
      root = (await holds(bench, world)) ? bench : path.join(repo, '.data', 'eval-world-1m');
    } else root = path.join(repo, '.data', `eval-world-${items}`);
  }
  const out = reportDir(repo, args.out, isDefault ? null : (args.world ?? String(items)));
  const users = int(args, 'users', 300);
  const precisions = parsePrecisions(args.precisions);
  const report = await runEval({
    root,
    world,
    ...(args.bundle !== undefined ? { bundle: path.resolve(args.bundle) } : {}),
    users,
    seed: int(args, 'seed', 1),
    threads: int(args, 'threads', 1),
    budgets: DEFAULT_BUDGETS,
    lambdas: DEFAULT_LAMBDAS,
    precisions,
    command: ['npm run eval --', ...process.argv.slice(2)].join(' '),
    log: (m) => console.error(m),
  });
  if (args.loop !== undefined) {
    const work = path.resolve(args['loop-work'] ?? path.join(repo, '.data', 'loop'));
    report.loop = await runLoop({ ...LOOP_DEFAULTS, world: root, logs: path.resolve(args.loop), users, work, command: report.command, log: (m) => console.error(m) });
    for (const f of await writeLoopReport(report.loop, path.join(out, 'loop'))) console.error(`wrote ${f}`);
  }
  for (const f of await writeReport(report, out)) console.error(`wrote ${f}`);
  console.error(`report: ${path.relative(process.cwd(), path.join(out, 'report.md')) || path.join(out, 'report.md')}`);
  const h = report.headline;
  console.log(
    `engine NDCG@50 ${h.engineNdcg50.toFixed(3)} = ${h.vsPopularity.toFixed(2)}x popularity (${h.popularityNdcg50.toFixed(3)}), ` +
      `${h.vsNoShortcuts.toFixed(3)}x no-shortcuts (${h.noShortcutsNdcg50.toFixed(3)}); ` +
      `HAP 0.2 vs 1.0: NDCG@50 ratio ${report.hap.ratioNdcg50At20vs100?.toFixed(3)}, prerank time ratio ${report.hap.ratioPrerankMsAt20vs100?.toFixed(3)}; ` +
      `ANN recall@${report.ann.k} at the default setting ${report.ann.defaultRecallAtK?.toFixed(4)}; ` +
      `retrieval: ${report.retrieval.index.mean.toFixed(3)} of the true top ${report.retrieval.trueTopN} among the ${report.retrieval.k} candidates; ` +
      `reactivity: ${report.reactivity.before.mean.toFixed(2)} -> ${report.reactivity.after.mean.toFixed(2)} of the top 20 in the burst's category`,
  );
  const p = report.precision;
  if (p !== null) {
    console.log('');
    console.log(`Reduced precision (${report.world.items} items, ${p.reference.requests} requests): ${p.allPass ? 'every precision meets the bar' : 'NOT every precision meets the bar'}`);
    console.log(precisionCpuLine(p));
    for (const line of precisionTable(p)) console.log(line);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
