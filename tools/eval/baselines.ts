// The engine at its defaults and the baselines it is measured against:
//   random       50 rows drawn uniformly (seeded), computed here;
//   popularity   the top 50 by the bundle's item_bias, computed here;
//   two-tower    through the API: one user vector (max_interests 1),
//                heavy_budget 0, diversity NONE, exploration NONE,
//                prerank_keep = num_results = 200, no brand-run rule,
//                debug on; the returned items re-sorted by their 'light'
//                stage score (the engine's two-tower score <user emb, item
//                emb> + the bundle's bias term) and cut to 50. Seen and
//                duplicate items are still filtered by the policy.
//   no-shortcuts through the API: retrieval_k = min(5000, items),
//                heavy_budget 1.0, diversity NONE, exploration NONE.
import type { RankResponse__Output } from '../../src/client';
import { topK } from '../../src/native';
import { Rng } from '../../src/util/random';
import { bootstrapRatio, ratio } from './metrics';
import type { EvalSession, Spec } from './session';
import { ConfigResult, EvalConfig, EvalReport, NO_EXPLORATION, NUM_RESULTS } from './types';

/** The items of a response re-sorted by their light (two-tower) stage score, the first NUM_RESULTS. */
function byLight(res: RankResponse__Output): string[] {
  return res.items
    .map((it) => ({ id: it.item_id, s: it.stage_scores.find((x) => x.stage === 'light')?.score ?? -Infinity }))
    .sort((a, b) => b.s - a.s)
    .slice(0, NUM_RESULTS)
    .map((x) => x.id);
}

/** The random and popularity baselines, the two-tower list, and the engine with and without exploration. */
export function baselineSpecs(): Spec[] {
  return [
    { name: 'random', description: `${NUM_RESULTS} distinct rows drawn uniformly (seeded), computed in the evaluator`, options: null },
    { name: 'popularity', description: `top ${NUM_RESULTS} by item_bias (the same list for everyone), computed in the evaluator`, options: null },
    {
      name: 'two-tower',
      description: 'API: heavy_budget 0, diversity NONE, exploration NONE, prerank_keep 200, num_results 200, brand_run_limit 1000, max_interests 1; items re-sorted by their light (two-tower) stage score, top 50',
      options: { ...NO_EXPLORATION, heavy_budget: 0, diversity: 'DIVERSITY_METHOD_NONE', prerank_keep: 200, brand_run_limit: 1000, max_interests: 1 },
      numResults: 200,
      pick: byLight,
    },
    { name: 'engine', description: 'API: default knobs, exploration NONE', options: { ...NO_EXPLORATION } },
    { name: 'engine+exploration', description: 'API: default knobs including the default epsilon-greedy exploration', options: {} },
  ];
}

/** The engine without its shortcuts: the no-shortcuts reference. */
export function noShortcutsSpec(s: EvalSession): Spec {
  return {
    name: 'no-shortcuts',
    description: 'API: retrieval_k min(5000, items), heavy_budget 1.0, diversity NONE, exploration NONE',
    options: { ...NO_EXPLORATION, retrieval_k: Math.min(5000, s.bundle.items.n), heavy_budget: 1, diversity: 'DIVERSITY_METHOD_NONE' },
  };
}

/** The lists computed here (random, popularity), by configuration name and the request's seed. */
export function computedLists(s: EvalSession): (name: string, seed: number) => number[] {
  const n = s.bundle.items.n;
  const popular = Array.from(topK(s.bundle.bias, NUM_RESULTS));
  return (name, seed) => {
    if (name !== 'random') return popular;
    const rng = new Rng(seed);
    const set = new Set<number>();
    while (set.size < Math.min(NUM_RESULTS, n)) set.add(Math.floor(rng.next() * n));
    return [...set];
  };
}

/** The headline: the engine against popularity and no-shortcuts, with per-request and bootstrap intervals. */
export function headlineSection(cfg: EvalConfig, configs: Record<string, ConfigResult>, perRequest: (name: string) => number[]): EvalReport['headline'] {
  const eng = configs.engine.ndcg50;
  const vsPop = ratio(eng, configs.popularity.ndcg50);
  const vsRef = ratio(eng, configs['no-shortcuts'].ndcg50);
  const iters = cfg.bootstrapIters ?? 1000;
  const boot = new Rng((cfg.seed ^ 0x5eed) >>> 0);
  const bPop = bootstrapRatio(perRequest('engine'), perRequest('popularity'), () => boot.next(), iters);
  const bRef = bootstrapRatio(perRequest('engine'), perRequest('no-shortcuts'), () => boot.next(), iters);
  return {
    engineNdcg50: eng,
    popularityNdcg50: configs.popularity.ndcg50,
    noShortcutsNdcg50: configs['no-shortcuts'].ndcg50,
    twoTowerNdcg50: configs['two-tower'].ndcg50,
    vsPopularity: vsPop,
    vsNoShortcuts: vsRef,
    ci: {
      engineNdcg50: configs.engine.ndcg50Ci,
      popularityNdcg50: configs.popularity.ndcg50Ci,
      noShortcutsNdcg50: configs['no-shortcuts'].ndcg50Ci,
      twoTowerNdcg50: configs['two-tower'].ndcg50Ci,
      vsPopularity: { lo: bPop.lo, hi: bPop.hi },
      vsNoShortcuts: { lo: bRef.lo, hi: bRef.hi },
      bootstrapIters: iters,
    },
    targets: { vsPopularityAtLeast: 2, vsNoShortcutsAtLeast: 0.95, vsPopularityMet: vsPop >= 2, vsNoShortcutsMet: vsRef >= 0.95 },
  };
}
