// Stage 2: the user tower turns the action sequence into the user embedding
// and the preferred price level; they make the shared user part of x0. A user
// whose actions cluster into several interests also gets one vector per
// interest (the user embedding for the largest, the tower over its own
// actions for each other), for retrieval and the page's calibration. The
// output is reused while the user's actions and the catalog are unchanged
// (UserEmbeddingCache).
import { INTEREST_DEFAULTS, clusterActions, groupsOf } from '../models/interests';
import { userFeatures } from '../models/layout';
import type { TowerOutput } from '../models/user-tower';
import type { RankContext, Stage } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';
import { userOf } from '../pipeline/context';

/**
 * The tower's output for the user, with their interests when there are two
 * or more (null: one vector serves): the user's own vector for the largest,
 * the tower over each other interest's actions for the rest, all in one
 * batched tower call. `known`: the user's vector when already computed.
 */
async function towerOutput(ctx: RankContext, max: number, known: TowerOutput | null): Promise<TowerOutput> {
  const { deps } = ctx;
  const user = userOf(ctx);
  const { catalog, tower } = deps;
  const clusters = max > 1 ? clusterActions(user, catalog.cols.embeddings, catalog.dim, catalog.category, ctx.now, tower.maxActions, { ...INTEREST_DEFAULTS, maxInterests: max }) : null;
  if (clusters === null || clusters.count < 2) {
    const own = known ?? (await tower.embed(user, catalog, ctx.now));
    return { embedding: own.embedding, pricePref: own.pricePref, ...(max > 1 ? { interests: null, interestsFor: max } : {}) };
  }
  // Row 0: the whole window, as UserTower.embed reads it; then the other interests.
  const n = user.actionRows.length;
  const window = Int32Array.from({ length: Math.min(n, tower.maxActions) }, (_, i) => n - Math.min(n, tower.maxActions) + i);
  const groups = groupsOf(clusters).slice(1);
  const batch = await tower.embedGroups(user, catalog, ctx.now, known ? groups : [window, ...groups]);
  const d = catalog.dim;
  const own = known ?? { embedding: batch.embedding.slice(0, d), pricePref: batch.pricePref[0] };
  const others = known ? batch.embedding : batch.embedding.subarray(d);
  const vectors = new Float32Array(clusters.count * d);
  vectors.set(own.embedding);
  vectors.set(others, d);
  const { count, shares, categories, categoryShares } = clusters;
  const interests = vectors.every(Number.isFinite) ? { count, vectors, shares, categories, categoryShares } : null;
  return { embedding: own.embedding, pricePref: own.pricePref, interests, interestsFor: max };
}

export const userEmbeddingStage: Stage = {
  id: 'user_embedding',
  async run(ctx: RankContext, c: Candidates): Promise<Candidates> {
    const { deps } = ctx;
    const user = userOf(ctx);
    const version = deps.catalog.version;
    const maxInterests = ctx.input.options.maxInterests;
    let out: TowerOutput | null = deps.towerCache.get(ctx.input.userId, user, version, ctx.now);
    const cached = out !== null;
    ctx.towerCache = cached ? 'hit' : 'miss';
    if (out === null || (maxInterests > 1 && out.interestsFor !== maxInterests)) {
      out = await towerOutput(ctx, maxInterests, out);
      // In-session actions are this request's only: the entry keeps the
      // recorded state, which the user's next calls will most likely have.
      // A hit keeps its entry (and its age) when only the interests differ.
      if (!cached && ctx.input.recentActions.length === 0) deps.towerCache.put(ctx.input.userId, user, version, ctx.now, out);
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
      ctx.interests = maxInterests > 1 ? (out.interests ?? null) : null;
      ctx.note = (out.embedding.some((v) => v !== 0) ? 'from actions' : 'cold user: zero embedding') + (cached ? ' (cached)' : '');
      if (ctx.interests) ctx.note += `; ${ctx.interests.count} interests (${Array.from(ctx.interests.shares, (s) => s.toFixed(2)).join(', ')})`;
    }
    ctx.userFeatures = userFeatures(deps.layout, ctx.userEmb, ctx.pricePref, ctx.input.surface, ctx.input.device);
    return c;
  },
};
