// `npm run eval -- [--users 300] [--world 100k|1m | --items N] [--out docs/quality] [--seed 1] [--threads 1] [--root DIR]`:
// ranks a sample of users through the engine's gRPC API and scores every list
// against the demo world's ground truth; writes report.json, report.md and SVG plots.
//
// --world 1m: the 1M-item world of the native benchmarks (1,000,000 items,
// dim 64, IVF4096 index); reused from .data/bench-worlds/world-1000000 when
// that directory holds exactly this world, else generated into
// .data/eval-world-1m (minutes, and about 1 GB on disk).
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

import { GENERATOR_VERSION } from '../world/generate';
import { DEFAULT_WORLD, WorldConfig } from '../world/schema';
import { writeReport } from './report';
import { DEFAULT_BUDGETS, DEFAULT_LAMBDAS, runEval } from './run';

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

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known = new Set(['users', 'items', 'world', 'out', 'seed', 'threads', 'root']);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`unknown option --${k} (options: ${[...known].join(', ')})`);
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
  // The default world's report in docs/quality, the others' beside it.
  const out = args.out ?? path.join(repo, 'docs', 'quality', ...(isDefault ? [] : [`world-${args.world ?? items}`]));
  const users = int(args, 'users', 300);
  const report = await runEval({
    root,
    world,
    users,
    seed: int(args, 'seed', 1),
    threads: int(args, 'threads', 1),
    budgets: DEFAULT_BUDGETS,
    lambdas: DEFAULT_LAMBDAS,
    command: ['npm run eval --', ...process.argv.slice(2)].join(' '),
    log: (m) => console.error(m),
  });
  for (const f of await writeReport(report, out)) console.error(`wrote ${f}`);
  const h = report.headline;
  console.log(
    `engine NDCG@50 ${h.engineNdcg50.toFixed(3)} = ${h.vsPopularity.toFixed(2)}x popularity (${h.popularityNdcg50.toFixed(3)}), ` +
      `${h.vsNoShortcuts.toFixed(3)}x no-shortcuts (${h.noShortcutsNdcg50.toFixed(3)}); ` +
      `HAP 0.2 vs 1.0: NDCG@50 ratio ${report.hap.ratioNdcg50At20vs100?.toFixed(3)}, prerank time ratio ${report.hap.ratioPrerankMsAt20vs100?.toFixed(3)}; ` +
      `ANN recall@${report.ann.k} at the default setting ${report.ann.defaultRecallAtK?.toFixed(4)}; ` +
      `retrieval: ${report.retrieval.index.mean.toFixed(3)} of the true top ${report.retrieval.trueTopN} among the ${report.retrieval.k} candidates; ` +
      `reactivity: ${report.reactivity.before.mean.toFixed(2)} -> ${report.reactivity.after.mean.toFixed(2)} of the top 20 in the burst's category`,
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
