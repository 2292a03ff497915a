// Stage 2: the user tower turns the action sequence into the user embedding
// and the preferred price level; they make the shared user part of x0.
import { userFeatures } from '../../features/layout';
import type { RankContext, Stage } from '../context';
import type { Candidates } from '../types';

export const userEmbeddingStage: Stage = {
  id: 'user_embedding',
  async run(ctx: RankContext, c: Candidates): Promise<Candidates> {
    const { deps } = ctx;
    const out = await deps.tower.embed(ctx.user!, deps.catalog, ctx.now);
    ctx.userEmb = out.embedding;
    ctx.pricePref = out.pricePref;
    ctx.userFeatures = userFeatures(deps.layout, out.embedding, out.pricePref, ctx.input.surface, ctx.input.device);
    ctx.note = out.embedding.some((v) => v !== 0) ? 'from actions' : 'cold user: zero embedding';
    return c;
  },
};
