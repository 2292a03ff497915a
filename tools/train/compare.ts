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
import * as path from 'node:path';
import { parseArgs } from 'node:util';

import { Bundle, loadBundle } from '../../src/bundle/loader';
import { topK } from '../../src/native';
import { Engine } from '../../src/pipeline/engine';
import { DEFAULT_RANK, ENGINE_DEFAULTS } from '../../src/pipeline/options';
import { Rng } from '../../src/util/random';
import { meanInterval, ndcgAt, pairedDifference } from '../eval/metrics';
import { WorldPaths, worldPaths } from '../world/generate';
import { Objective, OBJECTIVES } from '../world/schema';
import { trueProbabilities, trueUtility } from '../world/truth';
import { loadTruth, WorldTruth } from '../world/truth-files';

const N = 50;

export interface CompareRow {
  list: string;
  ndcg50: number;
  ci: [number, number];
  perObjective: Record<string, number>;
  /** Per-user NDCG@50, in sample order. */
  perUser: number[];
}

async function pages(bundle: Bundle, paths: WorldPaths, users: string[], ensemble: 'weighted' | 'learned' = 'weighted'): Promise<number[][]> {
  const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads: 1, clock: 'bundle', seedEvents: paths.events, rankerPrecision: 'fp32' });
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

export async function compare(o: { trained: string; source: string; world: string; users: number; seed: number }): Promise<CompareRow[]> {
  const paths = worldPaths(o.world);
  const src = await loadBundle(o.source, { progress: false });
  const trained = await loadBundle(o.trained, { progress: false });
  const truth: WorldTruth = await loadTruth(paths, src);
  const returning = truth.users.info.filter((u) => u.segment === 'returning');
  const rng = new Rng(o.seed);
  const sample = Array.from({ length: Math.min(o.users, returning.length) }, () => returning[rng.int(returning.length)]);
  const lists: Record<string, number[][]> = {
    'source bundle (models from the truth)': await pages(src, paths, sample.map((u) => u.id)),
    'trained bundle (models from the logs)': await pages(trained, paths, sample.map((u) => u.id)),
    ...(trained.ensemble ? { 'trained bundle + learned ensemble': await pages(trained, paths, sample.map((u) => u.id), 'learned') } : {}),
    popularity: sample.map(() => Array.from(topK(src.bias, N))),
    random: sample.map(() => Array.from({ length: N }, () => rng.int(src.items.n))),
  };
  const all = Int32Array.from({ length: src.items.n }, (_, i) => i);
  const bw = src.manifest.defaultWeights.home;
  const weights = Object.fromEntries(OBJECTIVES.map((ob) => [ob, bw[ob] ?? 0])) as Record<Objective, number>;
  const scores: Record<string, { w: number[]; obj: number[][] }> = Object.fromEntries(Object.keys(lists).map((k) => [k, { w: [], obj: OBJECTIVES.map(() => []) }]));
  sample.forEach((u, i) => {
    const probs = trueProbabilities(truth.coefficients, truth.items, truth.users, truth.users.rowOf.get(u.id)!, all, { surface: 'home', device: 'mobile' });
    const utility = trueUtility(probs, weights);
    const ideal = Array.from(topK(utility, N), (r) => utility[r]);
    const objIdeal = OBJECTIVES.map((_, j) => {
      const p = Float32Array.from(all, (r) => probs[r * OBJECTIVES.length + j]);
      return { p, ideal: Array.from(topK(p, N), (r) => p[r]) };
    });
    for (const [k, l] of Object.entries(lists)) {
      scores[k].w.push(ndcgAt(l[i].map((r) => utility[r]), ideal, N));
      objIdeal.forEach((t, j) => scores[k].obj[j].push(ndcgAt(l[i].map((r) => t.p[r]), t.ideal, N)));
    }
  });
  return Object.entries(scores).map(([list, s]) => {
    const m = meanInterval(s.w);
    return { list, ndcg50: m.mean, ci: [m.lo, m.hi], perObjective: Object.fromEntries(OBJECTIVES.map((ob, j) => [ob, meanInterval(s.obj[j]).mean])), perUser: s.w };
  });
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
  const rows = await compare({ trained: path.resolve(values.bundle), source: path.resolve(values.source ?? path.join(world, 'bundle')), world, users: Number(values.users), seed: Number(values.seed) });
  const f = (x: number) => x.toFixed(3);
  console.log(`| list | NDCG@50 (true utility) | ${OBJECTIVES.join(' | ')} |`);
  console.log(`|---|---:|${OBJECTIVES.map(() => '---:').join('|')}|`);
  for (const r of rows) console.log(`| ${r.list} | ${f(r.ndcg50)} [${f(r.ci[0])}, ${f(r.ci[1])}] | ${OBJECTIVES.map((o) => f(r.perObjective[o])).join(' | ')} |`);
  const [src, trained] = rows;
  const pop = rows.find((r) => r.list === 'popularity')!;
  const d = pairedDifference(trained.perUser, src.perUser);
  console.log(`\ntrained / source: ${(trained.ndcg50 / src.ndcg50).toFixed(3)}x (difference ${f(d.mean)} [${f(d.lo)}, ${f(d.hi)}]); trained / popularity: ${(trained.ndcg50 / pop.ndcg50).toFixed(2)}x`);
  const learned = rows.find((r) => r.list.includes('learned ensemble'));
  if (learned) {
    const e = pairedDifference(learned.perUser, trained.perUser);
    console.log(`learned ensemble - weighted sum (same trained bundle): ${f(e.mean)} [${f(e.lo)}, ${f(e.hi)}]`);
  }
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
