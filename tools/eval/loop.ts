// npm run eval:loop: the learning loop end to end, on the truth, with a time
// split, every seed method against its ablation on the same logs.
//
//   npm run eval:loop -- [--world DIR] [--logs DIR] [--days 2] [--sessions-per-day 2000]
//        [--users 300] [--epochs 3] [--out DIR] [--work DIR]
//
// The logs (`npm run simulate`, simulated here when --logs holds none) are
// split at T, the start of their last day: every model is trained on what
// was logged before T (`npm run train -- --until T`), and judged after it.
// Three bundles from the same logs: the full one (two-tower with trainable
// item embeddings, position branch, HAP pre-ranker, learned ensemble), one
// without the position branch, one with the plain pre-ranker. Retrieval:
// Recall@K on the engagements after T (and the frozen-embedding ablation).
// Ranking: each bundle's cascade for a sample of returning users, asked at
// T + 12 h with their logged history up to then, NDCG@10 and @50 on the
// true utility and each objective (tools/train/compare.ts), with the
// truth-derived bundle, popularity and random; paired differences of each
// ablation. The position branch's learned examination against the
// simulator's true position bias. IPS and SNIPS of other exploration rates
// from an epsilon 0.3 policy's logged propensities against their simulated
// truth (tools/off-policy.ts). Writes DIR/loop.md, loop.json and SVG plots
// (default .data/eval/loop); `npm run eval -- --loop LOGS` runs the same and
// adds it to the evaluation's report.
import { promises as fs } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { offPolicy, offPolicySetting, offPolicyTable, OffPolicyRow } from '../off-policy';
import { existingWorld, simulate, SimulationSummary } from '../simulate';
import { findPython, train, TrainResult } from '../train/cli';
import { compare, CompareRow, eventsBefore } from '../train/compare';
import { DAY_MS, DEFAULT_WORLD } from '../world/schema';
import { Interval, pairedDifference } from './metrics';
import { renderLinePlot } from './svg';

const ROOT = path.join(__dirname, '..', '..', '..');

export interface LoopReport {
  command: string;
  date: string;
  split: string;
  askedAt: string;
  trainSeconds: Record<string, number>;
  ranking: CompareRow[];
  /** Paired NDCG@50 differences (per user) of the full bundle against each other list. */
  differences: Record<string, Interval>;
  full: TrainResult;
  noPosition: TrainResult;
  plainPreranker: TrainResult;
  position: { positions: number[]; learned: number[]; truth: number[]; meanAbsError: number };
  /** IPS and SNIPS of other exploration rates from a logging policy's propensities, against their simulated truth. */
  offPolicy: { sessions: number; logEpsilon: number; rows: OffPolicyRow[] };
}

async function ensureLogs(world: string, logs: string, days: number, sessionsPerDay: number, log: (m: string) => void): Promise<SimulationSummary> {
  try {
    return JSON.parse(await fs.readFile(path.join(logs, 'simulation.json'), 'utf8')) as SimulationSummary;
  } catch {
    log(`no simulation in ${logs}: simulating ${days} days of ${sessionsPerDay} sessions`);
    // The world as it was made (simulate regenerates a world whose configuration differs).
    return simulate({ root: world, world: (await existingWorld(world)) ?? DEFAULT_WORLD, out: logs, days, sessionsPerDay, seed: 1, examPower: 0.7, epsilon: 0.1, results: 20, log });
  }
}

/** The learned log-examination (relative to position 1) against log exam(p) of the simulator. */
function positionCurve(learned: number[], bias: number[]): LoopReport['position'] {
  const n = Math.min(learned.length, bias.length);
  const positions = Array.from({ length: n }, (_, i) => i + 1);
  const truth = positions.map((p) => Math.log(bias[p - 1] / bias[0]));
  const err = positions.slice(1).map((p) => Math.abs(learned[p - 1] - truth[p - 1]));
  return { positions, learned: learned.slice(0, n), truth, meanAbsError: err.reduce((a, b) => a + b, 0) / Math.max(1, err.length) };
}

export interface LoopOptions {
  world: string;
  logs: string;
  days: number;
  sessionsPerDay: number;
  users: number;
  epochs: number;
  work: string;
  /** Sessions of the off-policy simulations (one logging policy, each target's truth). */
  offPolicySessions: number;
  command: string;
  log: (m: string) => void;
}

/** The loop's settings when not given: the simulation's size (when it runs) and the training epochs. */
export const LOOP_DEFAULTS = { days: 2, sessionsPerDay: 2000, epochs: 3, offPolicySessions: 3000 } as const;

/** The off-policy check: epsilon 0.3 logs, estimates of 0.3, 0.1 and 0 against their own simulations. */
async function offPolicyCheck(o: LoopOptions): Promise<LoopReport['offPolicy']> {
  const world = (await existingWorld(o.world)) ?? DEFAULT_WORLD;
  const logEpsilon = 0.3;
  const rows = await offPolicy({ root: o.world, world, out: path.join(o.work, 'off-policy'), sessions: o.offPolicySessions, logEpsilon, targets: [0.3, 0.1, 0], seed: 1, log: o.log });
  return { sessions: o.offPolicySessions, logEpsilon, rows };
}

export async function runLoop(o: LoopOptions): Promise<LoopReport> {
  const sim = await ensureLogs(o.world, o.logs, o.days, o.sessionsPerDay, o.log);
  const start = Date.parse(sim.start);
  const until = start + (sim.days - 1) * DAY_MS;
  const askedAt = until + DAY_MS / 2;
  const python = findPython();
  if (!python) throw new Error('no python3 with PyTorch and NumPy found (scripts/install-system-deps.sh installs python3-torch)');
  const bundle = path.join(o.world, 'bundle');
  const base = { logs: o.logs, bundle, epochs: o.epochs, seed: 1, until, python, twoTower: true, log: o.log };
  const seconds: Record<string, number> = {};
  const timed = async (name: string, f: () => Promise<TrainResult>) => {
    const t0 = Date.now();
    const r = await f();
    seconds[name] = (Date.now() - t0) / 1000;
    o.log(`${name}: trained in ${seconds[name].toFixed(0)} s`);
    return r;
  };
  const dirs = { full: path.join(o.work, 'trained'), noPosition: path.join(o.work, 'no-position'), plain: path.join(o.work, 'plain-preranker') };
  const full = await timed('full', () => train({ ...base, out: dirs.full, position: true, ablation: true, ensemble: [16, 8], preranker: 'hap' }));
  const noPosition = await timed('no position branch', () => train({ ...base, out: dirs.noPosition, position: false, preranker: 'hap' }));
  const plainPreranker = await timed('plain pre-ranker', () => train({ ...base, out: dirs.plain, position: true, preranker: 'plain' }));
  const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'loop-'));
  try {
    const events = await eventsBefore(path.join(o.logs, 'events.jsonl'), askedAt, path.join(tmp, 'events.jsonl'));
    const lists = [
      { label: 'trained (all models from the logs)', dir: dirs.full },
      { label: 'trained + learned ensemble', dir: dirs.full, ensemble: 'learned' as const },
      { label: 'trained, no position branch', dir: dirs.noPosition },
      { label: 'trained, plain pre-ranker', dir: dirs.plain },
    ];
    const ranking = await compare({ world: o.world, source: bundle, lists, users: o.users, seed: 1, at: { events, now: askedAt } });
    const mine = ranking.find((r) => r.list === lists[0].label)!;
    const differences = Object.fromEntries(ranking.filter((r) => r !== mine).map((r) => [r.list, pairedDifference(mine.perUser, r.perUser)]));
    return {
      command: o.command,
      date: new Date().toISOString(),
      split: new Date(until).toISOString(),
      askedAt: new Date(askedAt).toISOString(),
      trainSeconds: seconds,
      ranking: ranking.map((r) => ({ ...r, perUser: [] })),
      differences,
      full,
      noPosition,
      plainPreranker,
      position: positionCurve((JSON.parse(await fs.readFile(`${dirs.full}.train-summary.json`, 'utf8')) as { positionLogExam?: number[] }).positionLogExam ?? [], sim.positionBias),
      offPolicy: await offPolicyCheck(o),
    };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

const f3 = (x: number) => x.toFixed(3);
const iv = (i: Interval) => `${f3(i.mean)} [${f3(i.lo)}, ${f3(i.hi)}]`;

export function loopMarkdown(r: LoopReport): string {
  return ['# The learning loop against the truth', '', ...loopLines(r, '##', '')].join('\n') + '\n';
}

/**
 * The report's body: `h` the level of its section headings, `files` the
 * path of the plots from where the text is (loop.md beside them; the
 * evaluation's report.md one directory up).
 */
export function loopLines(r: LoopReport, h: string, files: string): string[] {
  const L: string[] = [];
  L.push(`Generated by \`${r.command}\` on ${r.date}. Every model trained on the logs before ${r.split} (the split); retrieval judged on the engagements after it, ranking on requests at ${r.askedAt} with each user's logged history up to then. Training times: ${Object.entries(r.trainSeconds).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')}.`, '');
  L.push(`${h} Ranking (NDCG on the true utility, home, 50 results, no exploration or diversity)`, '');
  L.push('| list | NDCG@50 | NDCG@10 | click @50 | wishlist @50 | cart @50 | purchase @50 | trained − list, NDCG@50 |', '|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const row of r.ranking) {
    const d = r.differences[row.list];
    L.push(`| ${row.list} | ${f3(row.ndcg50)} [${f3(row.ci[0])}, ${f3(row.ci[1])}] | ${f3(row.ndcg10)} | ${Object.values(row.perObjective).map(f3).join(' | ')} | ${d ? iv(d) : ''} |`);
  }
  const rc = r.full.twoTower?.recall;
  if (rc) {
    L.push('', `${h} Retrieval (Recall@K of the engaged item, exact top K over every item; ${rc.n} engagements after the split)`, '');
    L.push('| user tower + item embeddings | Recall@20 | Recall@100 | Recall@500 |', '|---|---:|---:|---:|');
    const row = (name: string, x: Record<number, Interval>) => L.push(`| ${name} | ${[20, 100, 500].map((k) => iv(x[k])).join(' | ')} |`);
    row('written down from the truth', rc.source);
    row('trained, trainable item embeddings', rc.trained);
    if (rc.frozen) row('trained, frozen item embeddings (ablation)', rc.frozen);
    if (rc.trainedMinusFrozen) row('trainable − frozen (paired)', rc.trainedMinusFrozen);
    L.push('', `![Recall@K](${files}loop-recall.svg)`);
  }
  const pre = r.full.preranker;
  if (pre) {
    L.push('', `${h} Pre-ranker at budget ${pre.budget} (${pre.pages.heldOut} held-out pages)`, '');
    L.push('Share of the teacher\'s (the trained ranker\'s) top 50 among the M kept:', '');
    L.push(`| light score only | plain pre-ranker | HAP pre-ranker | the teacher on the hard band (ceiling) |`, '|---:|---:|---:|---:|');
    const k = pre.teacherTop50Kept;
    L.push(`| ${f3(k.light)} | ${f3(k.plain)} | ${f3(k.hap)} | ${f3(k.teacher)} |`);
  }
  L.push('', `${h} Position bias: the learned examination vs the simulator's`, '');
  L.push(`Mean absolute error over positions 2–${r.position.positions.length}: ${f3(r.position.meanAbsError)} (log exam(p), relative to position 1). The bundle without the position branch has no curve to compare; its ranking is in the first table.`, '');
  L.push(`![position bias](${files}loop-position.svg)`, '');
  L.push(`${h} Off-policy estimates from the logged propensities (\`npm run off-policy\` alone)`, '');
  L.push(offPolicySetting(r.offPolicy.sessions, r.offPolicy.logEpsilon), '');
  L.push(...offPolicyTable(r.offPolicy.rows));
  return L;
}

/** Writes DIR/loop.json, loop.md and the plots; the files written. */
export async function writeLoopReport(r: LoopReport, out: string): Promise<string[]> {
  await fs.mkdir(out, { recursive: true });
  const files: Record<string, string> = { 'loop.json': JSON.stringify(r, null, 2) + '\n', 'loop.md': loopMarkdown(r), ...plots(r) };
  for (const [name, text] of Object.entries(files)) await fs.writeFile(path.join(out, name), text);
  return Object.keys(files).map((f) => path.join(out, f));
}

function plots(r: LoopReport): Record<string, string> {
  const out: Record<string, string> = {
    'loop-position.svg': renderLinePlot({
      title: 'Position bias: learned log-examination vs the simulator',
      xLabel: 'position',
      yLabel: 'log exam(p) relative to position 1',
      series: [
        { name: 'learned (position branch)', points: r.position.positions.map((p, i) => ({ x: p, y: r.position.learned[i] })) },
        { name: 'true log exam(p)', dashed: true, points: r.position.positions.map((p, i) => ({ x: p, y: r.position.truth[i] })) },
      ],
    }),
  };
  const rc = r.full.twoTower?.recall;
  if (rc) {
    const series = (name: string, x: Record<number, Interval>) => ({ name, points: [20, 100, 500].map((k) => ({ x: k, y: x[k].mean, label: f3(x[k].mean) })) });
    out['loop-recall.svg'] = renderLinePlot({
      title: 'Retrieval Recall@K after the split',
      xLabel: 'K',
      yLabel: 'Recall@K',
      series: [series('from the truth', rc.source), series('trained', rc.trained), ...(rc.frozen ? [series('trained, frozen item embeddings', rc.frozen)] : [])],
    });
  }
  return out;
}

export const LOOP_USAGE = `usage: npm run eval:loop -- [options]

Simulates (when --logs holds no simulation), trains on the days before the
last one and judges on the last: all models, no position branch, plain
pre-ranker; writes loop.md, loop.json and plots.

options:
  --world DIR              the world (default .data/demo-world)
  --logs DIR               the simulation's logs (default .data/simulation)
  --days N                 days simulated when there are no logs (default 2; at least 2)
  --sessions-per-day N     sessions per simulated day (default 2000)
  --users N                returning users whose pages are scored (default 300)
  --epochs N               training epochs of every model (default 3)
  --out DIR                where the report goes (default .data/eval/loop)
  --work DIR               where the trained bundles and the off-policy simulations go
                           (default .data/loop)
  --off-policy-sessions N  sessions of each off-policy simulation (default 3000)
  --help, -h               this text`;

async function main(): Promise<void> {
  if (process.argv.slice(2).some((a) => a === '--help' || a === '-h')) {
    console.log(LOOP_USAGE);
    return;
  }
  const { values } = parseArgs({
    options: {
      world: { type: 'string', default: path.join(ROOT, '.data', 'demo-world') },
      logs: { type: 'string', default: path.join(ROOT, '.data', 'simulation') },
      days: { type: 'string', default: String(LOOP_DEFAULTS.days) },
      'sessions-per-day': { type: 'string', default: String(LOOP_DEFAULTS.sessionsPerDay) },
      users: { type: 'string', default: '300' },
      epochs: { type: 'string', default: String(LOOP_DEFAULTS.epochs) },
      out: { type: 'string', default: path.join(ROOT, '.data', 'eval', 'loop') },
      work: { type: 'string', default: path.join(ROOT, '.data', 'loop') },
      'off-policy-sessions': { type: 'string', default: String(LOOP_DEFAULTS.offPolicySessions) },
    },
  });
  const n = (k: keyof typeof values) => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer`);
    return v;
  };
  if (n('days') < 2) throw new Error('--days must be 2 or more: the last day is held out');
  const out = path.resolve(values.out!);
  const r = await runLoop({
    world: path.resolve(values.world!), logs: path.resolve(values.logs!), days: n('days'), sessionsPerDay: n('sessions-per-day'), users: n('users'), epochs: n('epochs'),
    work: path.resolve(values.work!), offPolicySessions: n('off-policy-sessions'), command: ['npm run eval:loop --', ...process.argv.slice(2)].join(' '), log: (m) => console.error(m),
  });
  await writeLoopReport(r, out);
  console.log(`wrote ${path.join(out, 'loop.md')}`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
