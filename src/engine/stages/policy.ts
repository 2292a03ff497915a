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
import { dedupe, filterSeen, limitBrandRuns, mixExploration, recentMask } from '../policy';
import { mulberry32 } from '../../util/random';
import type { RankContext, Stage } from '../context';
import { select } from '../context';
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

function positionsWhere(n: number, pred: (i: number) => boolean): Int32Array {
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (pred(i)) out.push(i);
  return Int32Array.from(out);
}

/** Orders candidate positions by diversity method, returning at most n. */
function diversify(ctx: RankContext, c: Candidates, n: number): Int32Array {
  const o = ctx.input.options;
  const k = Math.min(n, c.rows.length);
  if (o.diversity === 'none' || c.rows.length <= 1) return topK(c.scores, k);
  const { catalog } = ctx.deps;
  let max = 0;
  for (const s of c.scores) max = Math.max(max, s);
  if (o.diversity === 'mmr') {
    const rel = Float32Array.from(c.scores, (s) => (max > 0 ? s / max : s));
    return mmr({ embeddings: catalog.cols.embeddings, dim: catalog.dim, rows: c.rows, relevance: rel }, k, o.diversityLambda);
  }
  // DPP with quality q = score^alpha, alpha = lambda / (1 - lambda).
  const alpha = o.diversityLambda >= 0.999 ? 1000 : o.diversityLambda / (1 - o.diversityLambda);
  const rel = Float32Array.from(c.scores, (s) => Math.log(Math.max(s, 1e-12)));
  const picked = dpp({ embeddings: catalog.cols.embeddings, dim: catalog.dim, rows: c.rows, relevance: rel }, k, alpha);
  if (picked.length >= k) return picked;
  // DPP stops when the rest are near-duplicates of its picks: fill by score.
  const used = new Set(picked);
  const rest = Array.from(topK(c.scores, c.rows.length)).filter((p) => !used.has(p));
  return Int32Array.from([...picked, ...rest.slice(0, k - picked.length)]);
}

export function policyStage(cfg: PolicyConfig): Stage {
  return {
    id: 'policy',
    run(ctx: RankContext, input: Candidates): Candidates {
      const { catalog, stats } = ctx.deps;
      const o = ctx.input.options;
      const N = ctx.input.numResults;
      const debug = ctx.trail !== null;
      const user = ctx.user!;
      let c = input;
      const drop = (positions: Int32Array, reason: string) => {
        if (debug) for (const p of positions) ctx.removed.push({ row: c.rows[p], stage: 'policy', reason });
      };

      // 1. Seen recently.
      const seen = filterSeen(c.rows, user.seen, ctx.now, cfg.seenTtlMs);
      drop(seen.removed, 'seen');
      c = select(c, seen.keep, ctx.input.weights.length);

      // 2. Purchased within the window: kept aside, in score order, for the tail.
      const bought = recentMask(c.rows, user.purchased, ctx.now, cfg.purchaseWindowMs);
      const asidePos = positionsWhere(c.rows.length, (i) => bought[i] === 1);
      const aside = select(c, Int32Array.from(asidePos).sort((a, b) => c.scores[b] - c.scores[a]), ctx.input.weights.length);
      c = select(c, positionsWhere(c.rows.length, (i) => bought[i] === 0), ctx.input.weights.length);

      // 3. Duplicates, in score order (the best of a group stays).
      c = select(c, topK(c.scores, c.rows.length), ctx.input.weights.length);
      const exploring = o.exploration !== 'none' && o.epsilon > 0;
      const isFresh = (i: number) => c.provenance[i] === PROVENANCE.fresh && catalog.isNew(c.rows[i], ctx.now);
      // Only the best max(3N, 100) organic candidates compete for the page (this
      // bounds the pairwise duplicate check); fresh ones are kept for exploration.
      const limit = Math.max(3 * N, 100);
      let organicSeen = 0;
      const compete = positionsWhere(c.rows.length, (i) => (exploring && isFresh(i)) || organicSeen++ < limit);
      c = select(c, compete, ctx.input.weights.length);
      const dd = dedupe(c.rows, catalog.contentHash, catalog.cols.embeddings, catalog.dim);
      if (debug) dd.removed.forEach((p, i) => ctx.removed.push({ row: c.rows[p], stage: 'policy', reason: dd.reasons[i] }));
      c = select(c, dd.keep, ctx.input.weights.length);

      // 4-5. Organic order: diversity picks the first N, the rest follow by
      // score (material for the brand-run rule), then the brand-run rule.
      const organicPos = exploring ? positionsWhere(c.rows.length, (i) => !isFresh(i)) : positionsWhere(c.rows.length, () => true);
      const organic = select(c, organicPos, ctx.input.weights.length);
      const picked = diversify(ctx, organic, N);
      const no = organic.rows.length;
      const used = new Uint8Array(no);
      const full = new Int32Array(no);
      full.set(picked);
      for (let i = 0; i < picked.length; i++) used[picked[i]] = 1;
      let nf = picked.length;
      const byScore = topK(organic.scores, no);
      for (let i = 0; i < no; i++) if (used[byScore[i]] === 0) full[nf++] = byScore[i];
      // The rule works on positions of `organic`, with each position's brand.
      const brandAt = new Int32Array(no);
      for (let i = 0; i < no; i++) brandAt[i] = catalog.brand[organic.rows[i]];
      const brandOrdered = limitBrandRuns(full.subarray(0, nf), brandAt, o.brandRunLimit);
      const order = brandOrdered.subarray(0, exploring ? brandOrdered.length : N);
      let page = select(organic, order, ctx.input.weights.length);
      page.exploration = new Uint8Array(page.rows.length);

      // 6. Exploration with new items.
      if (exploring) {
        const freshPos = positionsWhere(c.rows.length, isFresh);
        const fresh = select(c, freshPos, ctx.input.weights.length);
        // Organic relevance follows the page order (Algorithm 1 takes argmax rel).
        const orgRel = Float32Array.from(page.rows, (_, i) => page.rows.length - i);
        const mixed = mixExploration(
          { rows: page.rows, rel: orgRel },
          { rows: fresh.rows, rel: fresh.scores },
          N,
          o.explorationStart,
          o.epsilon,
          rngFor(o.seed),
          o.exploration === 'thompson' ? 'thompson' : 'epsilon-greedy',
          (row) => stats.posterior(row),
        );
        const all = new Map<number, { from: Candidates; pos: number }>();
        page.rows.forEach((r, i) => all.set(r, { from: page, pos: i }));
        fresh.rows.forEach((r, i) => all.set(r, { from: fresh, pos: i }));
        page = merge(mixed.rows, all, ctx.input.weights.length);
        page.exploration = mixed.exploration;
      }

      // Purchased items only fill what is left.
      if (page.rows.length < N && aside.rows.length > 0) {
        const fill = select(aside, Int32Array.from({ length: Math.min(aside.rows.length, N - page.rows.length) }, (_, i) => i), ctx.input.weights.length);
        fill.exploration = new Uint8Array(fill.rows.length);
        page = concat(page, fill, ctx.input.weights.length);
      }
      ctx.note = `${seen.removed.length} seen, ${asidePos.length} purchased aside, ${dd.removed.length} duplicates, ${o.diversity} diversity, ${page.exploration!.reduce((a, b) => a + b, 0)} exploration picks`;
      return page;
    },
  };
}

function merge(rows: Int32Array, from: Map<number, { from: Candidates; pos: number }>, heads: number): Candidates {
  const parts = Array.from(rows, (r) => from.get(r)!);
  const out: Candidates = {
    rows: Int32Array.from(rows),
    scores: Float32Array.from(parts, (p) => p.from.scores[p.pos]),
    provenance: Uint8Array.from(parts, (p) => p.from.provenance[p.pos]),
    strong: Uint8Array.from(parts, (p) => p.from.strong[p.pos]),
    objectives: new Float32Array(rows.length * heads),
  };
  parts.forEach((p, i) => out.objectives!.set(p.from.objectives!.subarray(p.pos * heads, (p.pos + 1) * heads), i * heads));
  return out;
}

function concat(a: Candidates, b: Candidates, heads: number): Candidates {
  const cat = <T extends Int32Array | Float32Array | Uint8Array>(x: T, y: T, C: { new (n: number): T }) => {
    const o = new C(x.length + y.length);
    o.set(x);
    o.set(y, x.length);
    return o;
  };
  const out: Candidates = {
    rows: cat(a.rows, b.rows, Int32Array),
    scores: cat(a.scores, b.scores, Float32Array),
    provenance: cat(a.provenance, b.provenance, Uint8Array),
    strong: cat(a.strong, b.strong, Uint8Array),
    exploration: cat(a.exploration!, b.exploration!, Uint8Array),
  };
  if (heads > 0) out.objectives = cat(a.objectives!, b.objectives!, Float32Array);
  return out;
}
