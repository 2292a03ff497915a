// Stage 5: the multi-task DCN-v2 ranker scores the kept candidates: one
// probability per objective, computed in the worker pool or, when that is
// cheaper than the hop, on the calling thread (see ScoringPool).
import type { RankContext, Stage } from '../pipeline/context';
import { dropNonFinite, userFeaturesOf } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';

export const rankStage: Stage = {
  id: 'rank',
  degrade: [
    {
      step: 'no_rank',
      order: 4,
      // The page is composed from the pre-rank order.
      apply: (input) => input,
      saves: (cost) => cost('rank') + cost('ensemble'),
      skips: ['rank', 'ensemble'],
    },
  ],
  // The ranker computes one probability per objective (the items'
  // `objectives`), no single score: the ensemble's entry combines them.
  ownTrail: true,
  async run(ctx: RankContext, c: Candidates): Promise<Candidates> {
    const objectives = await ctx.deps.pool.score('ranker', userFeaturesOf(ctx), c.rows, ctx.now, ctx.input.signal, ctx.deps.preferInline());
    c.objectives = objectives;
    const out = dropNonFinite(ctx, 'rank', c, objectives, ctx.input.weights.length);
    ctx.note = `${c.rows.length} scored`;
    return out;
  },
  // Without the ranker the page follows the pre-rank order; objectives are unknown (0).
  skip(ctx: RankContext, c: Candidates): Candidates {
    c.objectives = new Float32Array(c.rows.length * ctx.input.weights.length);
    return c;
  },
};
