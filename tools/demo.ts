// `npm run demo`: one user, ranked in-process by the engine on the demo world,
// scored against the world's ground truth (the true weighted engagement of
// every item for this user and context).
import * as path from 'node:path';

import { loadBundle } from '../src/bundle/loader';
import { Engine } from '../src/pipeline/engine';
import { ENGINE_DEFAULTS } from '../src/pipeline/options';
import type { DiversityMethod, RankInput } from '../src/pipeline/request';
import { topK } from '../src/native';
import { DEFAULT_RANK } from '../src/pipeline/options';
import { ensureWorld } from './world/cache';
import { DEFAULT_WORLD, OBJECTIVES } from './world/schema';
import { trueProbabilities, trueUtility } from './world/truth';
import { loadTruth } from './world/truth-files';

const N = 10;

async function main(): Promise<void> {
  const root = process.env.DEMO_WORLD_DIR ?? path.join(__dirname, '..', '..', '.data', 'demo-world');
  const paths = await ensureWorld(root, DEFAULT_WORLD, (m) => console.error(m));
  const bundle = await loadBundle(paths.bundle, { progress: true });
  const truth = await loadTruth(paths, bundle);
  const engine = await Engine.create(bundle, { ...ENGINE_DEFAULTS, threads: 1, clock: 'bundle', seedEvents: paths.events });
  try {
    const info = truth.users.info.find((u) => u.segment === 'returning')!;
    const uRow = truth.users.rowOf.get(info.id)!;
    const weights = bundle.manifest.defaultWeights.home;
    const w = Float32Array.from(bundle.manifest.objectives, (o) => weights[o] ?? 0);
    const utility = trueUtility(
      trueProbabilities(truth.coefficients, truth.items, truth.users, uRow, Int32Array.from({ length: bundle.items.n }, (_, i) => i), { surface: 'home', device: info.device }),
      weights as Record<(typeof OBJECTIVES)[number], number>,
    );
    const order = topK(utility, bundle.items.n);
    const trueRank = new Int32Array(bundle.items.n);
    order.forEach((row, r) => (trueRank[row] = r + 1));
    const dcg = (xs: number[]) => xs.reduce((a, x, i) => a + x / Math.log2(i + 2), 0);
    const ideal = dcg(Array.from(order.subarray(0, N), (r) => utility[r]));
    console.log(`user ${info.id} (${info.device}; likes ${info.categories.join(', ')}), home surface, ${bundle.items.n} items`);

    for (const diversity of ['none', 'dpp'] as DiversityMethod[]) {
      const input: RankInput = {
        requestId: 'demo',
        userId: info.id,
        surface: 'home',
        device: info.device,
        recentActions: [],
        numResults: N,
        weights: w,
        options: { ...DEFAULT_RANK, diversity, exploration: 'none', exclude: new Set(), seed: 1 },
        debug: true,
        deadline: Infinity,
      };
      const out = await engine.rank(input);
      console.log(`\ndiversity ${diversity}: ${out.stages.map((s) => `${s.stage} ${s.millis.toFixed(2)} ms`).join(', ')}`);
      console.log('  #  item          category     brand        score   true utility (rank)');
      out.items.forEach((it, i) =>
        console.log(
          `${String(i + 1).padStart(3)}  ${bundle.items.ids[it.row]}  ${bundle.items.categoryNames[bundle.items.category[it.row]].padEnd(11)}  ${bundle.items.brandNames[bundle.items.brand[it.row]].padEnd(11)}  ${it.score.toFixed(3)}   ${utility[it.row].toFixed(3)} (${trueRank[it.row]})`,
        ),
      );
      console.log(`NDCG@${N} against the oracle: ${(dcg(out.items.map((it) => utility[it.row])) / ideal).toFixed(3)}`);
    }
  } finally {
    await engine.close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exitCode = 1;
});
