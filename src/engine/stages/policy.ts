// Stage 7: the policy layer composes the page (Zalando's section 6):
//   1. drop items the user saw recently (time-decayed seen set);
//   2. set aside items purchased within the window: they only fill the end;
//   3. drop duplicates (same content hash, or near-identical embedding);
//   4. diversity: MMR or DPP picks the organic order (or plain score order);
//   5. brand-run rule on the organic order;
//   6. exploration: from position k, with probability epsilon, a new item from
//      the fresh source instead of the next organic one (Algorithm 1), or by
//      Thompson sampling on the new items' click posteriors.
import { dpp, mmr, topK } from '../../native';
import { dedupe, limitBrandRuns, mixExploration, recentMask } from '../policy';
import { mulberry32 } from '../../util/random';
import type { RankContext, Stage } from '../context';
import { rowsAt, select } from '../context';
import type { Candidates } from '../types';
import { PROVENANCE } from '../types';

export interface PolicyConfig {
  seenTtlMs: number;
  purchaseWindowMs: number;
}

/** The request's seed makes exploration reproducible; 0 draws a random one. */
function rngFor(seed: number): () => number {
  return mulberry32(seed === 0 ? (Math.random() * 2 ** 32) >>> 0 : seed);
}

/** The scores at the given positions. */
function scoresAt(scores: Float32Array, positions: Int32Array): Float32Array {
  const out = new Float32Array(positions.length);
  for (let i = 0; i < positions.length; i++) out[i] = scores[positions[i]];
  return out;
}

/** positions[order[i]] for each i: composes a pick over a subset with the subset's positions. */
function compose(positions: Int32Array, order: Int32Array): Int32Array {
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) out[i] = positions[order[i]];
  return out;
}

/**
 * Orders candidates by diversity method, returning at most n positions into
 * `rows` / `scores`.
 */
function diversify(ctx: RankContext, rows: Int32Array, scores: Float32Array, n: number): Int32Array {
  const o = ctx.input.options;
  const m = rows.length;
  const k = Math.min(n, m);
  if (o.diversity === 'none' || m <= 1) return topK(scores, k);
  const { catalog } = ctx.deps;
  let max = 0;
  for (let i = 0; i < m; i++) max = Math.max(max, scores[i]);
  const rel = new Float32Array(m);
  if (o.diversity === 'mmr') {
    for (let i = 0; i < m; i++) rel[i] = max > 0 ? scores[i] / max : scores[i];
    return mmr({ embeddings: catalog.cols.embeddings, dim: catalog.dim, rows, relevance: rel }, k, o.diversityLambda);
  }
  // DPP with quality q = score^alpha, alpha = lambda / (1 - lambda).
  const alpha = o.diversityLambda >= 0.999 ? 1000 : o.diversityLambda / (1 - o.diversityLambda);
  for (let i = 0; i < m; i++) rel[i] = Math.log(Math.max(scores[i], 1e-12));
  const picked = dpp({ embeddings: catalog.cols.embeddings, dim: catalog.dim, rows, relevance: rel }, k, alpha);
  if (picked.length >= k) return picked;
  // DPP stops when the rest are near-duplicates of its picks: fill by score.
  const out = new Int32Array(k);
  out.set(picked);
  const used = new Uint8Array(m);
  for (let i = 0; i < picked.length; i++) used[picked[i]] = 1;
  const byScore = topK(scores, m);
  let n2 = picked.length;
  for (let i = 0; i < m && n2 < k; i++) if (used[byScore[i]] === 0) out[n2++] = byScore[i];
  return out;
}

/**
 * Stable order of `positions` by score, best first (ties keep their order).
 */
function byScoreStable(positions: Int32Array, scores: Float32Array): Int32Array {
  return compose(positions, topK(scoresAt(scores, positions), positions.length));
}

export function policyStage(cfg: PolicyConfig): Stage {
  return {
    id: 'policy',
    // Works on positions into the input candidates throughout, and copies the
    // chosen ones once at the end.
    run(ctx: RankContext, c: Candidates): Candidates {
      const { catalog, stats } = ctx.deps;
      const o = ctx.input.options;
      const N = ctx.input.numResults;
      const heads = ctx.input.weights.length;
      const debug = ctx.trail !== null;
      const user = ctx.user!;
      const K = c.rows.length;

      // 1. Seen recently: dropped. 2. Purchased within the window: set aside,
      // in score order, for the tail. The rest, best first.
      const seen = recentMask(c.rows, user.seen, ctx.now, cfg.seenTtlMs);
      const bought = recentMask(c.rows, user.purchased, ctx.now, cfg.purchaseWindowMs);
      let nSeen = 0;
      let nBought = 0;
      for (let i = 0; i < K; i++) {
        if (seen[i] === 1) nSeen++;
        else if (bought[i] === 1) nBought++;
      }
      const rest = new Int32Array(K - nSeen - nBought);
      const asideIn = new Int32Array(nBought);
      for (let i = 0, r = 0, b = 0; i < K; i++) {
        if (seen[i] === 1) {
          if (debug) ctx.removed.push({ row: c.rows[i], stage: 'policy', reason: 'seen' });
        } else if (bought[i] === 1) asideIn[b++] = i;
        else rest[r++] = i;
      }
      const aside = byScoreStable(asideIn, c.scores);
      const ordered = byScoreStable(rest, c.scores);

      // 3. Duplicates, in score order (the best of a group stays). Only the
      // best max(3N, 100) organic candidates compete for the page (this bounds
      // the pairwise duplicate check); fresh ones are kept for exploration.
      const exploring = o.exploration !== 'none' && o.epsilon > 0;
      const fresh = new Uint8Array(K);
      for (let i = 0; i < K; i++) fresh[i] = c.provenance[i] === PROVENANCE.fresh && catalog.isNew(c.rows[i], ctx.now) ? 1 : 0;
      const limit = Math.max(3 * N, 100);
      const compete = new Int32Array(ordered.length);
      let nc = 0;
      let organicSeen = 0;
      for (let i = 0; i < ordered.length; i++) {
        const p = ordered[i];
        if ((exploring && fresh[p] === 1) || organicSeen++ < limit) compete[nc++] = p;
      }
      const competing = compete.subarray(0, nc);
      const dd = dedupe(rowsAt(c.rows, competing), catalog.contentHash, catalog.cols.embeddings, catalog.dim);
      if (debug) dd.removed.forEach((p, i) => ctx.removed.push({ row: c.rows[competing[p]], stage: 'policy', reason: dd.reasons[i] }));
      const kept = compose(competing, dd.keep);

      // 4-5. Organic order: diversity picks the first N, the rest follow by
      // score (material for the brand-run rule), then the brand-run rule.
      let no = 0;
      for (let i = 0; i < kept.length; i++) if (!exploring || fresh[kept[i]] === 0) no++;
      const organic = new Int32Array(no);
      const freshKept = new Int32Array(kept.length - no);
      for (let i = 0, a = 0, b = 0; i < kept.length; i++) {
        if (!exploring || fresh[kept[i]] === 0) organic[a++] = kept[i];
        else freshKept[b++] = kept[i];
      }
      const organicRows = rowsAt(c.rows, organic);
      const organicScores = scoresAt(c.scores, organic);
      const picked = diversify(ctx, organicRows, organicScores, N);
      const used = new Uint8Array(no);
      const full = new Int32Array(no);
      full.set(picked);
      for (let i = 0; i < picked.length; i++) used[picked[i]] = 1;
      let nf = picked.length;
      const byScore = topK(organicScores, no);
      for (let i = 0; i < no; i++) if (used[byScore[i]] === 0) full[nf++] = byScore[i];
      // The rule works on positions of `organic`, with each position's brand.
      const brandAt = new Int32Array(no);
      for (let i = 0; i < no; i++) brandAt[i] = catalog.brand[organicRows[i]];
      const brandOrdered = limitBrandRuns(full.subarray(0, nf), brandAt, o.brandRunLimit);
      let page: Int32Array = compose(organic, brandOrdered.subarray(0, exploring ? brandOrdered.length : N));
      let explored: Uint8Array = new Uint8Array(page.length);

      // 6. Exploration with new items.
      if (exploring) {
        // Organic relevance follows the page order (Algorithm 1 takes argmax rel).
        const orgRel = new Float32Array(page.length);
        for (let i = 0; i < page.length; i++) orgRel[i] = page.length - i;
        const mixed = mixExploration(
          { rows: rowsAt(c.rows, page), rel: orgRel },
          { rows: rowsAt(c.rows, freshKept), rel: scoresAt(c.scores, freshKept) },
          N,
          o.explorationStart,
          o.epsilon,
          rngFor(o.seed),
          o.exploration === 'thompson' ? 'thompson' : 'epsilon-greedy',
          (row) => stats.posterior(row),
        );
        // Back to candidate positions: each pick's index in the list it came from.
        const mixedPage = new Int32Array(mixed.at.length);
        for (let p = 0; p < mixedPage.length; p++) mixedPage[p] = (mixed.exploration[p] === 1 ? freshKept : page)[mixed.at[p]];
        page = mixedPage;
        explored = mixed.exploration;
      }

      // Purchased items only fill what is left.
      const fill = page.length < N ? Math.min(aside.length, N - page.length) : 0;
      const positions = new Int32Array(page.length + fill);
      positions.set(page);
      positions.set(aside.subarray(0, fill), page.length);
      const out = select(c, positions, heads);
      out.exploration = new Uint8Array(positions.length);
      out.exploration.set(explored);
      ctx.note = `${nSeen} seen, ${nBought} purchased aside, ${dd.removed.length} duplicates, ${o.diversity} diversity, ${explored.reduce((a, b) => a + b, 0)} exploration picks`;
      return out;
    },
  };
}
