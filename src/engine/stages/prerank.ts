// Stage 4: HAP pre-ranking. The light two-tower score (<user, item> plus the
// bundle's popularity bias) for every candidate; the candidates whose
// keep/drop decision at the top-M boundary is least certain go to the strong
// pre-ranker (at most heavyBudget x K of them, micro-batched in the worker
// pool); its scores are calibrated onto the light scale and the top M kept.
import { hapMerge, hapRoute, scoreRows, topK } from '../../native';
import type { RankContext, Stage } from '../context';
import { recordTrail, rowsAt, select } from '../context';
import type { Candidates } from '../types';
import { PROVENANCE } from '../types';

export function lightScores(ctx: RankContext, rows: Int32Array): Float32Array {
  const { catalog, bundle } = ctx.deps;
  const w = bundle.manifest.lightModel?.biasWeight ?? 0;
  return scoreRows(catalog.cols.embeddings, catalog.dim, rows, ctx.userEmb!, w !== 0 ? { values: catalog.cols.bias, weight: w } : undefined);
}

export const prerankStage: Stage = {
  id: 'prerank',
  async run(ctx: RankContext, c: Candidates): Promise<Candidates> {
    const { input, deps } = ctx;
    const K = c.rows.length;
    const M = input.options.prerankKeep;
    c.scores = lightScores(ctx, c.rows);
    recordTrail(ctx, 'light', c);
    if (K <= M) {
      ctx.note = `${K} <= keep ${M}: all kept, strong model skipped`;
      return select(c, topK(c.scores, K));
    }
    const budget = Math.floor(input.options.heavyBudget * K);
    const hard = deps.hapRouting === 'top' ? topK(c.scores, budget) : hapRoute(c.scores, M, budget);
    let strong = new Float32Array(0);
    if (hard.length > 0) {
      const p = await deps.pool.score('preranker', ctx.userFeatures!, rowsAt(c.rows, hard), ctx.now, input.signal, deps.preferInline());
      // The strong model outputs P(click); compare on the logit scale.
      strong = new Float32Array(p.length);
      for (let i = 0; i < p.length; i++) strong[i] = Math.log(Math.max(p[i], 1e-7) / Math.max(1 - p[i], 1e-7));
      for (let i = 0; i < hard.length; i++) c.strong[hard[i]] = 1;
    }
    const merged = hapMerge(c.scores, hard, strong, M);
    // Fresh-source items are few and exist to be explored: they pass the cut
    // (the light score's popularity term would drop nearly all of them).
    const kept = new Uint8Array(K);
    for (let i = 0; i < merged.order.length; i++) kept[merged.order[i]] = 1;
    const order = new Int32Array(K);
    order.set(merged.order);
    let n = merged.order.length;
    for (let i = 0; i < K; i++) if (c.provenance[i] === PROVENANCE.fresh && kept[i] === 0) order[n++] = i;
    const out = select(c, order.subarray(0, n));
    out.scores.set(merged.scores);
    ctx.note = `strong model on ${hard.length} of ${K} (budget ${budget}), kept ${merged.order.length} + ${n - merged.order.length} fresh`;
    return out;
  },
};
