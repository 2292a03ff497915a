// Ranking-quality metrics of the evaluator. Pure functions over plain arrays,
// each defined exactly here (and checked against hand-computed examples in
// test/eval/metrics.test.ts).
//
// Conventions shared by all of them:
//   - positions are 0-based: the item at position i is discounted by
//     1 / log2(i + 2), so position 0 has weight 1 and position 1 has 1/log2(3);
//   - "@k" uses the first min(k, length) entries; a list shorter than k is
//     treated as if padded with gain 0 (a missing slot earns nothing);
//   - k must be a non-negative integer (k = 0 gives DCG 0 and NDCG 0);
//   - when there is nothing to find (ideal DCG 0, or an empty truth set) the
//     metric is 0, not NaN: such a query carries no information and the
//     evaluator counts it as a miss rather than as a success.

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
}

/**
 * Discounted cumulative gain with the log2 discount:
 *
 *   DCG@k = sum_{i = 0}^{min(k, n) - 1} gains[i] / log2(i + 2)
 *
 * with linear (not exponential) gains: the gain is the item's graded relevance
 * itself, which in the evaluator is the item's true weighted utility.
 */
export function dcgAt(gains: ArrayLike<number>, k: number): number {
  checkK(k);
  const n = Math.min(k, gains.length);
  let s = 0;
  for (let i = 0; i < n; i++) s += gains[i] / Math.log2(i + 2);
  return s;
}

/**
 * Normalised DCG:
 *
 *   NDCG@k = DCG@k(listGains) / DCG@k(sort_desc(idealGains))
 *
 * listGains: the true utility of each returned item, in the returned order.
 * idealGains: the true utilities of the candidates the oracle ranks from (all
 * of them, or at least its top k); they are sorted in decreasing order here,
 * so the denominator is the best DCG@k any list could reach. If that ideal
 * DCG is 0 (no relevant item at all) the result is 0 by convention. With
 * non-negative gains and a list drawn from the ideal's items the result lies
 * in [0, 1]; the oracle's own list scores exactly 1.
 */
export function ndcgAt(listGains: ArrayLike<number>, idealGains: ArrayLike<number>, k: number): number {
  checkK(k);
  const ideal = Array.from(idealGains).sort((a, b) => b - a);
  const idcg = dcgAt(ideal, k);
  if (!(idcg > 0)) return 0;
  return dcgAt(listGains, k) / idcg;
}

/**
 * Recall of the true top k:
 *
 *   recall@k = |set(retrieved[0..k)) ∩ set(trueTop[0..k))| / |set(trueTop[0..k))|
 *
 * retrieved: rows in the returned order; trueTop: rows in the oracle's order.
 * Duplicates count once. An empty truth set (trueTop empty or k = 0) gives 0.
 */
export function recallAt(retrieved: ArrayLike<number>, trueTop: ArrayLike<number>, k: number): number {
  checkK(k);
  const truth = new Set<number>();
  for (let i = 0; i < Math.min(k, trueTop.length); i++) truth.add(trueTop[i]);
  if (truth.size === 0) return 0;
  const hit = new Set<number>();
  for (let i = 0; i < Math.min(k, retrieved.length); i++) if (truth.has(retrieved[i])) hit.add(retrieved[i]);
  return hit.size / truth.size;
}

/**
 * Number of distinct values among the first min(k, n) entries (k omitted: all
 * of them): distinct categories or brands in a list. Empty list: 0.
 */
export function distinctCount<T>(values: ArrayLike<T>, k = values.length): number {
  checkK(k);
  const s = new Set<T>();
  for (let i = 0; i < Math.min(k, values.length); i++) s.add(values[i]);
  return s.size;
}

/**
 * Longest run of consecutive equal values (the brand-run rule's quantity):
 * [a, a, b, a] -> 2. Empty list: 0; any non-empty list: at least 1.
 */
export function maxBrandRun<T>(brands: ArrayLike<T>): number {
  let best = 0;
  let run = 0;
  for (let i = 0; i < brands.length; i++) {
    run = i > 0 && brands[i] === brands[i - 1] ? run + 1 : 1;
    if (run > best) best = run;
  }
  return best;
}

/** Arithmetic mean; 0 for an empty array. */
export function mean(xs: ArrayLike<number>): number {
  if (xs.length === 0) return 0;
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
}
