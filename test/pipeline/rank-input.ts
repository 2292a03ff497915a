// A plain engine request for the engine tests: home surface, mobile, 20
// results, every objective weighted 1, exploration off, no deadline.
import type { Bundle } from '../../src/bundle/loader';
import type { RankInput } from '../../src/pipeline/request';
import { DEFAULT_RANK } from '../../src/pipeline/options';

export function plainRankInput(bundle: Bundle, userId: string, requestId = 'r'): RankInput {
  return {
    requestId,
    userId,
    surface: 'home',
    device: 'mobile',
    recentActions: [],
    numResults: 20,
    weights: Float32Array.from(bundle.manifest.objectives, () => 1),
    options: { ...DEFAULT_RANK, exploration: 'none', exclude: new Set(), seed: 1 },
    debug: false,
    deadline: Infinity,
  };
}
