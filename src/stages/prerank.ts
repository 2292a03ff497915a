// Stage 4: HAP pre-ranking. The light two-tower score (<user, item> plus the
// bundle's popularity bias) for every candidate; the candidates whose
// keep/drop decision at the top-M boundary is least certain go to the strong
// pre-ranker (at most heavyBudget x K of them, inline or in the worker
// pool); its scores are calibrated onto the light scale and the top M kept.
import { hapMerge, hapRoute, scoreRows, topK } from '../native';
import type { RankContext, Stage } from '../pipeline/context';
import { allocCandidates, dropNonFinite, recordTrail, rowsAt, select, userEmbOf, userFeaturesOf } from '../pipeline/context';
import type { Candidates } from '../pipeline/types';
import { PROVENANCE } from '../pipeline/types';

/**
 * The light score: <user, item> plus the popularity bias; for a user with
 * several interests, the best <interest, item> (the first interest is the
 * user vector), so that a small interest's items are not all cut by the
 * largest one's, which lie a little closer to the user vector.
 */
export function lightScores(ctx: RankContext, rows: Int32Array): Float32Array {
  const { catalog, bundle } = ctx.deps;
  const w = bundle.manifest.lightModel?.biasWeight ?? 0;
  const bias = w !== 0 ? { values: catalog.cols.bias, weight: w } : undefined;
  const d = catalog.dim;
  const best = scoreRows(catalog.cols.embeddings, d, rows, userEmbOf(ctx), bias);
  const interests = ctx.interests;
  if (interests === null) return best;
  for (let q = 1; q < interests.count; q++) {
    const s = scoreRows(catalog.cols.embeddings, d, rows, interests.vectors.subarray(q * d, (q + 1) * d), bias);
    for (let i = 0; i < best.length; i++) if (s[i] > best[i]) best[i] = s[i];
  }
  return best;
}

/**
 * Drops the strong-scored candidates whose strong score is not finite (NaN
 * from the model: a P(click) of NaN survives the clamp above), with `hard`
 * and `strong` renumbered to the kept candidates' positions.
 */
function dropNonFiniteStrong(ctx: RankContext, c: Candidates, hard: Int32Array, strong: Float32Array): { c: Candidates; hard: Int32Array; strong: Float32Array } {
  if (strong.every(Number.isFinite)) return { c, hard, strong };
  const values = new Float32Array(c.rows.length);
  for (let i = 0; i < hard.length; i++) values[hard[i]] = strong[i];
  const out = dropNonFinite(ctx, 'prerank', c, values);
  // Positions shift down past each dropped candidate.
  const at = new Int32Array(c.rows.length).fill(-1);
  for (let i = 0, k = 0; i < c.rows.length; i++) if (Number.isFinite(values[i])) at[i] = k++;
  const keptHard: number[] = [];
  const keptStrong: number[] = [];
  for (let i = 0; i < hard.length; i++) {
    if (at[hard[i]] >= 0) {
      keptHard.push(at[hard[i]]);
      keptStrong.push(strong[i]);
    }
  }
  return { c: out, hard: Int32Array.from(keptHard), strong: Float32Array.from(keptStrong) };
}

export const prerankStage: Stage = {
  id: 'prerank',
  degrade: [
    {
      step: 'no_strong_prerank',
      order: 2,
      apply: (input) => (input.options.heavyBudget > 0 ? { ...input, options: { ...input.options, heavyBudget: 0 } } : null),
      saves: (cost) => 0.5 * cost('prerank'),
    },
  ],
  // The share of the K candidates the strong model scored.
  observe(m, ctx, candidatesIn) {
    if (candidatesIn > 0) m.strongModelFraction.observe(ctx.strongScored / candidatesIn);
  },
  // Debug scores: 'light' for every candidate, 'strong' (the strong model's
  // logit) for those it scored, 'prerank' (the merged score) for those kept.
  ownTrail: true,
  async run(ctx: RankContext, input0: Candidates): Promise<Candidates> {
    const { input, deps } = ctx;
    const M = input.options.prerankKeep;
    input0.scores = lightScores(ctx, input0.rows);
    let c = dropNonFinite(ctx, 'prerank', input0, input0.scores);
    const K = c.rows.length;
    recordTrail(ctx, 'light', c);
    if (K <= M) {
      ctx.note = `${K} <= keep ${M}: all kept, strong model skipped`;
      const all = select(c, topK(c.scores, K));
      recordTrail(ctx, 'prerank', all);
      return all;
    }
    const budget = Math.floor(input.options.heavyBudget * K);
    let hard = deps.hapRouting === 'top' ? topK(c.scores, budget) : hapRoute(c.scores, M, budget);
    let strong: Float32Array = new Float32Array(0);
    if (hard.length > 0) {
      const p = await deps.pool.score('preranker', userFeaturesOf(ctx), rowsAt(c.rows, hard), ctx.now, input.signal, deps.preferInline());
      // The strong model outputs P(click); compare on the logit scale.
      strong = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) strong[i] = Math.log(Math.max(p[i], 1e-7) / Math.max(1 - p[i], 1e-7));
      ctx.strongScored = hard.length;
      ({ c, hard, strong } = dropNonFiniteStrong(ctx, c, hard, strong));
      for (let i = 0; i < hard.length; i++) c.strong[hard[i]] = 1;
      if (ctx.trail) {
        const t = allocCandidates(hard.length);
        t.rows.set(rowsAt(c.rows, hard));
        t.scores.set(strong);
        recordTrail(ctx, 'strong', t);
      }
    }
    const merged = hapMerge(c.scores, hard, strong, M);
    // Fresh-source items are few and exist to be explored: they pass the cut
    // (the light score's popularity term would drop nearly all of them).
    const scored = c.rows.length;
    const kept = new Uint8Array(scored);
    for (let i = 0; i < merged.order.length; i++) kept[merged.order[i]] = 1;
    const order = new Int32Array(scored);
    order.set(merged.order);
    let n = merged.order.length;
    for (let i = 0; i < scored; i++) if (c.provenance[i] === PROVENANCE.fresh && kept[i] === 0) order[n++] = i;
    const out = select(c, order.subarray(0, n));
    out.scores.set(merged.scores);
    recordTrail(ctx, 'prerank', out);
    ctx.note = `strong model on ${hard.length} of ${K} (budget ${budget}), kept ${merged.order.length} + ${n - merged.order.length} fresh`;
    return out;
  },
};
