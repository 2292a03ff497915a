// A trained bundle against the truth: the same cascade with the source
// bundle (its models written down from the truth) and with the trained one
// (user tower, item embeddings and index, ranker from the logs), and the
// popularity and random lists, scored on the world's true utility.
//
//   npm run train:compare -- --bundle TRAINED [--source SRC] [--world DIR] [--users 300] [--seed 1]
//
// Both engines seed the same user histories (the world's events); each
// ranks a sample of the world's returning users on the home surface (50
// results, no exploration, no diversity, so the ranker's order shows), and
// every list gets NDCG@50 of the true weighted utility (default home
// weights) and of each objective's true probability; 95% intervals, and the
// paired per-user difference trained - source with its interval.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { Bundle, loadBundle } from '../../src/bundle/loader';
import { topK } from '../../src/native';
import { Engine } from '../../src/pipeline/engine';
import { DEFAULT_RANK, ENGINE_DEFAULTS } from '../../src/pipeline/options';
import { Rng } from '../../src/util/random';
import { meanInterval, ndcgAt, pairedDifference } from '../eval/metrics';
import { worldPaths } from '../world/generate';
import { Objective, OBJECTIVES } from '../world/schema';
import { trueProbabilities, trueUtility } from '../world/truth';
import { loadTruth, WorldTruth } from '../world/truth-files';

const N = 50;

export interface CompareRow {
  list: string;
  ndcg50: number;
  ci: [number, number];
  ndcg10: number;
  /** NDCG@50 of each objective's true probability. */
  perObjective: Record<string, number>;
  /** Per-user NDCG@50, in sample order. */
  perUser: number[];
}

/** When the lists are asked for: the users' history (an events file) and the engine's clock (ms; default the bundle's referenceTime). */
export interface CompareAt {
  events: string;
  now?: number;
}

async function pages(bundle: Bundle, at: CompareAt, users: string[], ensemble: 'weighted' | 'learned' = 'weighted'): Promise<number[][]> {
  const now = at.now;
  const clock = now !== undefined ? () => now : 'bundle';
  const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads: 1, clock, seedEvents: at.events, rankerPrecision: 'fp32' });
  try {
    const weights = Float32Array.from(bundle.manifest.objectives, (o) => bundle.manifest.defaultWeights.home[o] ?? 0);
    const out: number[][] = [];
    for (const [i, userId] of users.entries()) {
      const res = await engine.rank({
        requestId: `c${i}`,
        userId,
        surface: 'home',
        device: 'mobile',
        recentActions: [],
        numResults: N,
        weights,
        options: { ...DEFAULT_RANK, exploration: 'none', diversity: 'none', ensemble, exclude: new Set(), seed: i + 1 },
        debug: false,
        deadline: Infinity,
      });
      out.push(res.items.map((it) => it.row));
    }
    return out;
  } finally {
    await engine.close();
  }
}

export interface CompareList {
  label: string;
  dir: string;
  ensemble?: 'weighted' | 'learned';
}

export interface CompareOptions {
  world: string;
  /** The source bundle (its models from the truth): the first row. */
  source: string;
  lists: CompareList[];
  users: number;
  seed: number;
  /** Default: the world's events at its referenceTime. */
  at?: CompareAt;
}

/** NDCG@50 and @10 of each list on the true utility, NDCG@50 on each objective's true probability. */
function score(lists: Record<string, number[][]>, truth: WorldTruth, items: number, sample: { id: string }[], weights: Record<Objective, number>, n: number): CompareRow[] {
  const all = Int32Array.from({ length: items }, (_, i) => i);
  const sc: Record<string, { w50: number[]; w10: number[]; obj: number[][] }> = Object.fromEntries(Object.keys(lists).map((k) => [k, { w50: [], w10: [], obj: OBJECTIVES.map(() => []) }]));
  sample.forEach((u, i) => {
    const probs = trueProbabilities(truth.coefficients, truth.items, truth.users, truth.users.rowOf.get(u.id)!, all, { surface: 'home', device: 'mobile' });
    const utility = trueUtility(probs, weights);
    const ideal = Array.from(topK(utility, n), (r) => utility[r]);
    const objIdeal = OBJECTIVES.map((_, j) => {
      const p = Float32Array.from(all, (r) => probs[r * OBJECTIVES.length + j]);
      return { p, ideal: Array.from(topK(p, n), (r) => p[r]) };
    });
    for (const [k, l] of Object.entries(lists)) {
      const gains = l[i].map((r) => utility[r]);
      sc[k].w50.push(ndcgAt(gains, ideal, n));
      sc[k].w10.push(ndcgAt(gains, ideal.slice(0, 10), 10));
      objIdeal.forEach((t, j) => sc[k].obj[j].push(ndcgAt(l[i].map((r) => t.p[r]), t.ideal, n)));
    }
  });
  return Object.entries(sc).map(([list, s]) => {
    const m = meanInterval(s.w50);
    const perObjective = Object.fromEntries(OBJECTIVES.map((ob, j) => [ob, meanInterval(s.obj[j]).mean]));
    return { list, ndcg50: m.mean, ci: [m.lo, m.hi], ndcg10: meanInterval(s.w10).mean, perObjective, perUser: s.w50 };
  });
}

export async function compare(o: CompareOptions): Promise<CompareRow[]> {
  const paths = worldPaths(o.world);
  const src = await loadBundle(o.source, { progress: false });
  const truth: WorldTruth = await loadTruth(paths, src);
  const at = o.at ?? { events: paths.events };
  const returning = truth.users.info.filter((u) => u.segment === 'returning');
  const rng = new Rng(o.seed);
  const sample = Array.from({ length: Math.min(o.users, returning.length) }, () => returning[rng.int(returning.length)]);
  const ids = sample.map((u) => u.id);
  const lists: Record<string, number[][]> = { 'source bundle (models from the truth)': await pages(src, at, ids) };
  for (const l of o.lists) lists[l.label] = await pages(await loadBundle(l.dir, { progress: false }), at, ids, l.ensemble);
  lists.popularity = sample.map(() => Array.from(topK(src.bias, N)));
  lists.random = sample.map(() => Array.from({ length: N }, () => rng.int(src.items.n)));
  const bw = src.manifest.defaultWeights.home;
  const weights = Object.fromEntries(OBJECTIVES.map((ob) => [ob, bw[ob] ?? 0])) as Record<Objective, number>;
  return score(lists, truth, src.items.n, sample, weights, N);
}

/** The world's events before `now` (a simulation's log: seed history and simulated days) in a file of their own. */
export async function eventsBefore(file: string, now: number, out: string): Promise<string> {
  const kept = (await fs.readFile(file, 'utf8')).split('\n').filter((l) => l && (JSON.parse(l) as { ts: number }).ts < now);
  await fs.writeFile(out, kept.join('\n') + '\n');
  return out;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      bundle: { type: 'string' },
      source: { type: 'string' },
      world: { type: 'string', default: path.join('.data', 'demo-world') },
      users: { type: 'string', default: '300' },
      seed: { type: 'string', default: '1' },
    },
  });
  if (!values.bundle) throw new Error('--bundle TRAINED is required');
  const world = path.resolve(values.world!);
  const trained = path.resolve(values.bundle);
  const hasEnsemble = (JSON.parse(await fs.readFile(path.join(trained, 'manifest.json'), 'utf8')) as { models: { ensemble?: unknown } }).models.ensemble !== undefined;
  const lists: CompareList[] = [{ label: 'trained bundle (models from the logs)', dir: trained }, ...(hasEnsemble ? [{ label: 'trained bundle + learned ensemble', dir: trained, ensemble: 'learned' as const }] : [])];
  const rows = await compare({ world, source: path.resolve(values.source ?? path.join(world, 'bundle')), lists, users: Number(values.users), seed: Number(values.seed) });
  const f = (x: number) => x.toFixed(3);
  console.log(`| list | NDCG@50 (true utility) | NDCG@10 | ${OBJECTIVES.map((o) => `${o} @50`).join(' | ')} |`);
  console.log(`|---|---:|---:|${OBJECTIVES.map(() => '---:').join('|')}|`);
  for (const r of rows) console.log(`| ${r.list} | ${f(r.ndcg50)} [${f(r.ci[0])}, ${f(r.ci[1])}] | ${f(r.ndcg10)} | ${OBJECTIVES.map((o) => f(r.perObjective[o])).join(' | ')} |`);
  const [src, tr] = rows;
  const pop = rows.find((r) => r.list === 'popularity')!;
  const d = pairedDifference(tr.perUser, src.perUser);
  console.log(`\ntrained / source: ${(tr.ndcg50 / src.ndcg50).toFixed(3)}x (difference ${f(d.mean)} [${f(d.lo)}, ${f(d.hi)}]); trained / popularity: ${(tr.ndcg50 / pop.ndcg50).toFixed(2)}x`);
  const learned = rows.find((r) => r.list.includes('learned ensemble'));
  if (learned) {
    const e = pairedDifference(learned.perUser, tr.perUser);
    console.log(`learned ensemble - weighted sum (same trained bundle): ${f(e.mean)} [${f(e.lo)}, ${f(e.hi)}]`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
