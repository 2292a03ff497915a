// `npm run eval -- [--users 300] [--items 100000] [--out docs/quality] [--seed 1] [--threads 1] [--root DIR]`:
// ranks a sample of users through the engine's gRPC API and scores every list
// against the demo world's ground truth; writes report.json, report.md and SVG plots.
import * as path from 'node:path';

import { DEFAULT_WORLD } from '../world/schema';
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

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const known = new Set(['users', 'items', 'out', 'seed', 'threads', 'root']);
  for (const k of Object.keys(args)) if (!known.has(k)) throw new Error(`unknown option --${k} (options: ${[...known].join(', ')})`);
  const items = int(args, 'items', DEFAULT_WORLD.items);
  const repo = path.join(__dirname, '..', '..', '..');
  const world = { ...DEFAULT_WORLD, items };
  // The demo world's cache for the default size; another directory for other sizes (so the demo's is kept).
  const root = args.root ?? path.join(repo, '.data', items === DEFAULT_WORLD.items ? 'demo-world' : `eval-world-${items}`);
  const out = args.out ?? path.join(repo, 'docs', 'quality');
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
      `HAP 0.2 vs 1.0: NDCG@50 ratio ${report.hap.ratioNdcg50At20vs100?.toFixed(3)}, prerank time ratio ${report.hap.ratioPrerankMsAt20vs100?.toFixed(3)}`,
  );
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
