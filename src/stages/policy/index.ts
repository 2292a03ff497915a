// Stage 7: the policy layer composes the page (Zalando's section 6):
//   1. drop items the user saw recently (time-decayed seen set);
//   2. set aside items purchased within the window: they only fill the end;
//   3. drop duplicates (same content hash, or near-identical embedding);
//   4. diversity: MMR or DPP picks the organic order (or plain score order),
//      then, for a user with several interests, calibration makes the first
//      N follow their category mix;
//   5. brand-run rule on the organic order;
//   6. exploration: from position k, with probability epsilon, a new item from
//      the fresh source instead of the next organic one (Algorithm 1), or by
//      Thompson sampling on the new items' click posteriors.
import { dpp, mmr, topK } from '../../native';
import { limitBrandRuns, maxBrandRun } from './brand-run';
import { calibrate, listUtilities } from './calibration';
import { dedupe } from './dedupe';
import { mixExploration } from './exploration';
import { recentMask } from './recency';
import { mulberry32 } from '../../util/random';
import type { RankContext, Stage } from '../../pipeline/context';
import { rowsAt, select, userOf } from '../../pipeline/context';
import type { Candidates } from '../../pipeline/types';
import { PROVENANCE } from '../../pipeline/types';

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

interface ComposedPage {
  /** Candidate positions of the page, in order. */
  positions: Int32Array;
  /** 1 where exploration placed the item. */
  explored: Uint8Array;
  /** Per page position, the probability the policy put the item there (exploration.ts), when the request is logged. */
  propensity?: Float64Array;
  /** Candidates dropped as duplicates (positions into the candidates). */
  duplicates: { position: number; reason: string }[];
  /** The page still has a same-brand run longer than the limit. */
  runExceeded: boolean;
}

/**
 * Calibration's categories (the user's interest mix), or null when the page
 * is not calibrated (see calibrated()).
 */
function calibrationMix(ctx: RankContext): { categories: Int32Array; shares: Float32Array } | null {
  const interests = ctx.interests;
  if (interests === null || ctx.input.options.calibration <= 0 || ctx.input.category !== undefined) return null;
  return { categories: interests.categories, shares: interests.categoryShares };
}

/**
 * Step 3: duplicates, in score order (the best of a group stays). `limit`
 * bounds the pairwise check to the best organic candidates, plus the best of
 * each category calibration may need (its share of the page); fresh ones are
 * kept for exploration. Returns the kept positions, in order.
 */
function dropDuplicates(ctx: RankContext, c: Candidates, ordered: Int32Array, fresh: Uint8Array, exploring: boolean, limit: number): { kept: Int32Array; duplicates: ComposedPage['duplicates'] } {
  const { catalog } = ctx.deps;
  const compete = new Int32Array(ordered.length);
  // Calibration's categories: up to their share of the page (and one more) each, whatever their rank.
  const mix = calibrationMix(ctx);
  const room = new Map<number, number>();
  if (mix) mix.categories.forEach((g, j) => room.set(g, Math.ceil(ctx.input.numResults * mix.shares[j]) + 1));
  let nc = 0;
  let organicSeen = 0;
  for (let i = 0; i < ordered.length; i++) {
    const p = ordered[i];
    const g = catalog.category[c.rows[p]];
    const left = room.get(g) ?? 0;
    if ((exploring && fresh[p] === 1) || organicSeen++ < limit || left > 0) compete[nc++] = p;
    if (left > 0) room.set(g, left - 1);
  }
  const competing = compete.subarray(0, nc);
  const dd = dedupe(rowsAt(c.rows, competing), catalog.contentHash, catalog.cols.embeddings, catalog.dim);
  const duplicates = Array.from(dd.removed, (p, i) => ({ position: competing[p], reason: dd.reasons[i] }));
  return { kept: compose(competing, dd.keep), duplicates };
}

/**
 * Step 4: the organic order (diversity picks the first N, the rest follow by
 * score), and the fresh candidates set apart for exploration.
 */
function organicOrder(ctx: RankContext, c: Candidates, kept: Int32Array, fresh: Uint8Array, exploring: boolean): { list: Int32Array; freshKept: Int32Array } {
  let no = 0;
  for (let i = 0; i < kept.length; i++) if (!exploring || fresh[kept[i]] === 0) no++;
  const organic = new Int32Array(no);
  const freshKept = new Int32Array(kept.length - no);
  for (let i = 0, a = 0, b = 0; i < kept.length; i++) {
    if (!exploring || fresh[kept[i]] === 0) organic[a++] = kept[i];
    else freshKept[b++] = kept[i];
  }
  const organicScores = scoresAt(c.scores, organic);
  const picked = diversify(ctx, rowsAt(c.rows, organic), organicScores, ctx.input.numResults);
  const used = new Uint8Array(no);
  const full = new Int32Array(no);
  full.set(picked);
  for (let i = 0; i < picked.length; i++) used[picked[i]] = 1;
  let nf = picked.length;
  const byScore = topK(organicScores, no);
  for (let i = 0; i < no; i++) if (used[byScore[i]] === 0) full[nf++] = byScore[i];
  return { list: calibrated(ctx, c, compose(organic, full.subarray(0, nf))), freshKept };
}

/**
 * Step 4b: for a user with several interests, the first N of the organic
 * order calibrated to their category mix (calibration.ts); unchanged for
 * others, with calibration 0, or when the request is restricted to one category.
 */
function calibrated(ctx: RankContext, c: Candidates, list: Int32Array): Int32Array {
  const mix = calibrationMix(ctx);
  if (mix === null) return list;
  const category = Int32Array.from(list, (p) => ctx.deps.catalog.category[c.rows[p]]);
  return compose(list, calibrate(listUtilities(scoresAt(c.scores, list)), category, mix, ctx.input.options.calibration, ctx.input.numResults));
}

/**
 * Step 5: exploration with new items on the first N positions; the organic
 * items left follow in order, as material for the brand-run rule.
 */
function mixFresh(ctx: RankContext, c: Candidates, list: Int32Array, freshKept: Int32Array): { list: Int32Array; explored: Uint8Array; propensity?: Float64Array } {
  const o = ctx.input.options;
  // Organic relevance follows the list order (Algorithm 1 takes argmax rel).
  const orgRel = new Float32Array(list.length);
  for (let i = 0; i < list.length; i++) orgRel[i] = list.length - i;
  const mixed = mixExploration(
    { rows: rowsAt(c.rows, list), rel: orgRel },
    { rows: rowsAt(c.rows, freshKept), rel: scoresAt(c.scores, freshKept) },
    ctx.input.numResults,
    o.explorationStart,
    o.epsilon,
    rngFor(o.seed),
    o.exploration === 'thompson' ? 'thompson' : 'epsilon-greedy',
    (row) => ctx.deps.stats.posterior(row),
    { propensities: ctx.input.log === true },
  );
  // Back to candidate positions: each pick's index in the list it came
  // from. Organic picks take the list in order, so the rest of it follows.
  let used = 0;
  for (let p = 0; p < mixed.at.length; p++) if (mixed.exploration[p] === 0) used++;
  const positions = new Int32Array(mixed.at.length + list.length - used);
  for (let p = 0; p < mixed.at.length; p++) positions[p] = (mixed.exploration[p] === 1 ? freshKept : list)[mixed.at[p]];
  positions.set(list.subarray(used), mixed.at.length);
  return { list: positions, explored: mixed.exploration, propensity: mixed.propensity };
}

/**
 * Step 6: the brand-run rule over the whole list, purchased items (`aside`)
 * last: they only fill what is left, unless the rule needs one to break a
 * run that nothing else can. The page is the first N.
 */
function limitRuns(ctx: RankContext, c: Candidates, list: Int32Array, explored: Uint8Array, aside: Int32Array, propensity?: Float64Array): Omit<ComposedPage, 'duplicates'> {
  const { catalog } = ctx.deps;
  const limit = ctx.input.options.brandRunLimit;
  const all = new Int32Array(list.length + aside.length);
  all.set(list);
  all.set(aside, list.length);
  const brandAt = new Int32Array(all.length);
  for (let i = 0; i < all.length; i++) brandAt[i] = catalog.brand[c.rows[all[i]]];
  const identity = new Int32Array(all.length);
  for (let i = 0; i < identity.length; i++) identity[i] = i;
  const order = limitBrandRuns(identity, brandAt, limit).subarray(0, ctx.input.numResults);
  const positions = new Int32Array(order.length);
  const pageExplored = new Uint8Array(order.length);
  // Logged requests: each item keeps the probability of the place the mix gave it (1 past the mix: placed in order).
  const pagePropensity = ctx.input.log ? new Float64Array(order.length).fill(1) : undefined;
  for (let i = 0; i < order.length; i++) {
    positions[i] = all[order[i]];
    pageExplored[i] = order[i] < explored.length ? explored[order[i]] : 0;
    if (pagePropensity && propensity && order[i] < propensity.length) pagePropensity[i] = propensity[order[i]];
  }
  return { positions, explored: pageExplored, propensity: pagePropensity, runExceeded: maxBrandRun(order, brandAt) > limit };
}

/**
 * Steps 3-6 of the policy over the best `limit` organic candidates of
 * `ordered` (and every fresh one when exploring): duplicates dropped,
 * diversity picks the first N, exploration mixes new items in, purchased
 * items (`aside`) go last, and the brand-run rule runs over that whole list,
 * exploration picks included, before the page is cut to N. The list past N
 * is the material the rule moves items up from.
 */
function composePage(ctx: RankContext, c: Candidates, ordered: Int32Array, aside: Int32Array, fresh: Uint8Array, exploring: boolean, limit: number): ComposedPage {
  const { kept, duplicates } = dropDuplicates(ctx, c, ordered, fresh, exploring, limit);
  const organic = organicOrder(ctx, c, kept, fresh, exploring);
  const mixed = exploring ? mixFresh(ctx, c, organic.list, organic.freshKept) : { list: organic.list, explored: new Uint8Array(organic.list.length) };
  return { ...limitRuns(ctx, c, mixed.list, mixed.explored, aside, 'propensity' in mixed ? mixed.propensity : undefined), duplicates };
}

export function policyStage(cfg: PolicyConfig): Stage {
  return {
    id: 'policy',
    degrade: [
      {
        step: 'no_diversity',
        order: 3,
        apply: (input) => (input.options.diversity !== 'none' ? { ...input, options: { ...input.options, diversity: 'none' } } : null),
        saves: (cost) => 0.5 * cost('policy'),
      },
    ],
    // Works on positions into the input candidates throughout, and copies the
    // chosen ones once at the end.
    run(ctx: RankContext, c: Candidates): Candidates {
      const { catalog } = ctx.deps;
      const o = ctx.input.options;
      const N = ctx.input.numResults;
      const heads = ctx.input.weights.length;
      const debug = ctx.trail !== null;
      const user = userOf(ctx);
      const K = c.rows.length;

      // 1. Seen recently: dropped. 2. Purchased within the window: set aside,
      // in score order, for the tail. The rest, best first.
      const seen = recentMask(c.rows, user.seen, ctx.now, o.seenTtlMs ?? cfg.seenTtlMs);
      const bought = recentMask(c.rows, user.purchased, ctx.now, o.purchaseWindowMs ?? cfg.purchaseWindowMs);
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

      // 3-6. The page; the candidate set widens when the brand-run rule
      // cannot be met from the best ones (see composePage).
      const exploring = o.exploration !== 'none' && o.epsilon > 0;
      const fresh = new Uint8Array(K);
      for (let i = 0; i < K; i++) fresh[i] = c.provenance[i] === PROVENANCE.fresh && catalog.isNew(c.rows[i], ctx.now) ? 1 : 0;
      let limit = Math.max(3 * N, 100);
      let page = composePage(ctx, c, ordered, aside, fresh, exploring, limit);
      while (page.runExceeded && limit < ordered.length) {
        limit *= 4;
        page = composePage(ctx, c, ordered, aside, fresh, exploring, limit);
      }
      if (debug) page.duplicates.forEach((d) => ctx.removed.push({ row: c.rows[d.position], stage: 'policy', reason: d.reason }));
      const out = select(c, page.positions, heads);
      out.exploration = page.explored;
      if (page.propensity) out.propensity = page.propensity;
      const picks = page.explored.reduce((a, b) => a + b, 0);
      ctx.note = `${nSeen} seen, ${nBought} purchased aside, ${page.duplicates.length} duplicates, ${o.diversity} diversity, ${picks} exploration picks`;
      if (page.runExceeded) {
        // Never silently: the response's debug note and a metric say so.
        ctx.unmet.push('brand_run');
        ctx.note += `; brand-run limit ${o.brandRunLimit} not met: the candidates hold too few items of other brands`;
      }
      return out;
    },
  };
}
