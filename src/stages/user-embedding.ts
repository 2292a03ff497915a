// Stage 2: the user tower turns the action sequence into the user embedding
// and the preferred price level; they make the shared user part of x0. The
// output is reused while the user's actions and the catalog are unchanged
// (UserEmbeddingCache).
import { userFeatures } from '../models/layout';
import type { RankContext, Stage } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';
import { userOf } from '../pipeline/context';

export const userEmbeddingStage: Stage = {
  id: 'user_embedding',
  async run(ctx: RankContext, c: Candidates): Promise<Candidates> {
    const { deps } = ctx;
    const user = userOf(ctx);
    const version = deps.catalog.version;
    let out = deps.towerCache.get(ctx.input.userId, user, version, ctx.now);
    const cached = out !== null;
    ctx.towerCache = cached ? 'hit' : 'miss';
    if (out === null) {
      out = await deps.tower.embed(user, deps.catalog, ctx.now);
      // In-session actions are this request's only: the entry keeps the
      // recorded state, which the user's next calls will most likely have.
      if (ctx.input.recentActions.length === 0) deps.towerCache.put(ctx.input.userId, user, version, ctx.now, out);
    }
    if (!out.embedding.every(Number.isFinite) || !Number.isFinite(out.pricePref)) {
      // An item in the history whose features overflow the tower must not
      // fail every request of the user: serve them as a cold user, and say so.
      ctx.userEmb = new Float32Array(out.embedding.length);
      ctx.pricePref = 0;
      ctx.degradations.push('user_embedding_not_finite');
      ctx.note = 'the user tower gave a value that is not finite: served as a cold user';
    } else {
      ctx.userEmb = out.embedding;
      ctx.pricePref = out.pricePref;
      ctx.note = (out.embedding.some((v) => v !== 0) ? 'from actions' : 'cold user: zero embedding') + (cached ? ' (cached)' : '');
    }
    ctx.userFeatures = userFeatures(deps.layout, ctx.userEmb, ctx.pricePref, ctx.input.surface, ctx.input.device);
    return c;
  },
};
