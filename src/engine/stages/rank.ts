// Stage 5: the multi-task DCN-v2 ranker scores the kept candidates: one
// probability per objective, computed in the worker pool (micro-batched with
// other requests) or, for a small model while the engine is otherwise idle,
// on the calling thread (see ScoringPool).
import type { RankContext, Stage } from '../context';
import type { Candidates } from '../types';

export const rankStage: Stage = {
  id: 'rank',
  async run(ctx: RankContext, c: Candidates): Promise<Candidates> {
    c.objectives = await ctx.deps.pool.score('ranker', ctx.userFeatures!, c.rows, ctx.now, ctx.input.signal, ctx.deps.preferInline());
    ctx.note = `${c.rows.length} scored`;
    return c;
  },
};
