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

/** a / b; 0 when b is not positive. */
export function ratio(a: number, b: number): number {
  return b > 0 ? a / b : 0;
}

/** A mean with its standard error and interval [lo, hi] over n values. */
export interface Interval {
  mean: number;
  stderr: number;
  lo: number;
  hi: number;
  n: number;
}

/**
 * Mean with a normal-approximation 95% interval over independent per-request
 * values:
 *
 *   sd = sqrt(sum (x_i - mean)^2 / (n - 1)),  stderr = sd / sqrt(n),
 *   [lo, hi] = mean -/+ z * stderr            (z = 1.96 by default)
 *
 * With fewer than two values there is no spread estimate: stderr is 0 and
 * lo = hi = mean (n = 0 gives all zeros). Callers report n beside it.
 */
export function meanInterval(xs: ArrayLike<number>, z = 1.96): Interval {
  const n = xs.length;
  const m = mean(xs);
  if (n < 2) return { mean: m, stderr: 0, lo: m, hi: m, n };
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (xs[i] - m) ** 2;
  const se = Math.sqrt(ss / (n - 1)) / Math.sqrt(n);
  return { mean: m, stderr: se, lo: m - z * se, hi: m + z * se, n };
}

/**
 * Paired differences a_i - b_i with their meanInterval: the same users under
 * two configurations. Throws when the lengths differ.
 */
export function pairedDifference(a: ArrayLike<number>, b: ArrayLike<number>, z = 1.96): Interval {
  if (a.length !== b.length) throw new RangeError(`paired values need equal lengths, got ${a.length} and ${b.length}`);
  return meanInterval(Array.from({ length: a.length }, (_, i) => a[i] - b[i]), z);
}

/**
 * Ratio of means mean(a) / mean(b) over paired values (a_i and b_i from the
 * same request), with a percentile bootstrap interval: `iters` resamples of n
 * indices drawn with replacement from a seeded generator (uniform in [0, 1)),
 * the ratio sum a / sum b of each, sorted; lo is the value at index
 * floor(iters * (1 - level) / 2), hi at ceil(iters * (1 + level) / 2) - 1.
 * A resample with sum b = 0 counts as ratio 0. Empty input: all 0.
 */
export function bootstrapRatio(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  random: () => number,
  iters = 1000,
  level = 0.95,
): { ratio: number; lo: number; hi: number } {
  if (a.length !== b.length) throw new RangeError(`paired values need equal lengths, got ${a.length} and ${b.length}`);
  if (!Number.isInteger(iters) || iters < 1) throw new RangeError(`iters must be a positive integer, got ${iters}`);
  const n = a.length;
  if (n === 0) return { ratio: 0, lo: 0, hi: 0 };
  const ratioOf = (sa: number, sb: number) => (sb !== 0 ? sa / sb : 0);
  let sa = 0;
  let sb = 0;
  for (let i = 0; i < n; i++) {
    sa += a[i];
    sb += b[i];
  }
  const rs = new Float64Array(iters);
  for (let t = 0; t < iters; t++) {
    let x = 0;
    let y = 0;
    for (let i = 0; i < n; i++) {
      const j = Math.min(n - 1, Math.floor(random() * n));
      x += a[j];
      y += b[j];
    }
    rs[t] = ratioOf(x, y);
  }
  rs.sort();
  const lo = rs[Math.max(0, Math.floor((iters * (1 - level)) / 2))];
  const hi = rs[Math.min(iters - 1, Math.ceil((iters * (1 + level)) / 2) - 1)];
  return { ratio: ratioOf(sa, sb), lo, hi };
}

/**
 * Share of lists with a flagged item at each position (0-based):
 *
 *   share[p] = (lists with flags[p] = 1) / (lists at least p + 1 long)
 *
 * for p < n; count[p] is that denominator (share 0 where it is 0). flags are
 * 0/1 per position of each list (e.g. "this item is new").
 */
export function shareByPosition(lists: ArrayLike<number>[], n: number): { share: number[]; count: number[] } {
  checkK(n);
  const hits = new Array<number>(n).fill(0);
  const count = new Array<number>(n).fill(0);
  for (const l of lists) {
    for (let p = 0; p < Math.min(n, l.length); p++) {
      count[p]++;
      if (l[p]) hits[p]++;
    }
  }
  return { share: hits.map((h, p) => (count[p] > 0 ? h / count[p] : 0)), count };
}

/**
 * Pooled share over positions [from, to) (0-based, to exclusive) of a
 * shareByPosition result: sum of hits / sum of counts, 0 when no list reaches
 * that far.
 */
export function pooledShare(s: { share: number[]; count: number[] }, from: number, to: number): number {
  let h = 0;
  let c = 0;
  for (let p = Math.max(0, from); p < Math.min(to, s.count.length); p++) {
    h += s.share[p] * s.count[p];
    c += s.count[p];
  }
  return c > 0 ? h / c : 0;
}

/** How many of the first min(k, n) values satisfy `pred` (k omitted: all). */
export function countWhere<T>(values: ArrayLike<T>, pred: (v: T) => boolean, k = values.length): number {
  checkK(k);
  let c = 0;
  for (let i = 0; i < Math.min(k, values.length); i++) if (pred(values[i])) c++;
  return c;
}

/**
 * Share of the true top n that the candidate set holds (retrieval recall
 * against the truth, where the candidate set is larger than the truth set):
 *
 *   recallOfTop = |set(trueTop[0..n)) ∩ set(candidates)| / |set(trueTop[0..n))|
 *
 * candidates: every retrieved row, in any order and of any length (all of
 * them count, unlike recallAt, which cuts both lists at the same k);
 * trueTop: rows in the oracle's order. Duplicates count once. An empty truth
 * set (trueTop empty or n = 0) gives 0.
 */
export function recallOfTop(candidates: ArrayLike<number>, trueTop: ArrayLike<number>, n: number): number {
  checkK(n);
  const truth = new Set<number>();
  for (let i = 0; i < Math.min(n, trueTop.length); i++) truth.add(trueTop[i]);
  if (truth.size === 0) return 0;
  const hit = new Set<number>();
  for (let i = 0; i < candidates.length; i++) if (truth.has(candidates[i])) hit.add(candidates[i]);
  return hit.size / truth.size;
}

/**
 * Count and mean of the values of each group: values[i] belongs to
 * groups[i]. Groups appear in the order of their first value; a group named
 * in `order` but without values gets { n: 0, mean: 0 } (and comes first, in
 * that order). Throws when the lengths differ.
 */
export function groupMeans(values: ArrayLike<number>, groups: ArrayLike<string>, order: string[] = []): Record<string, { n: number; mean: number }> {
  if (values.length !== groups.length) throw new RangeError(`values and groups need equal lengths, got ${values.length} and ${groups.length}`);
  const sums = new Map<string, { n: number; s: number }>(order.map((g) => [g, { n: 0, s: 0 }]));
  for (let i = 0; i < values.length; i++) {
    let a = sums.get(groups[i]);
    if (!a) sums.set(groups[i], (a = { n: 0, s: 0 }));
    a.n++;
    a.s += values[i];
  }
  const out: Record<string, { n: number; mean: number }> = {};
  for (const [g, a] of sums) out[g] = { n: a.n, mean: a.n > 0 ? a.s / a.n : 0 };
  return out;
}

/**
 * Column j of a row-major table with `stride` values per row:
 * out[r] = table[r * stride + j] (one objective's true probabilities out of
 * trueProbabilities' interleaved output). Throws unless 0 <= j < stride and
 * the table's length is a multiple of stride.
 */
export function column(table: ArrayLike<number>, stride: number, j: number): Float32Array {
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`stride must be a positive integer, got ${stride}`);
  if (!Number.isInteger(j) || j < 0 || j >= stride) throw new RangeError(`column ${j} is outside 0..${stride - 1}`);
  if (table.length % stride !== 0) throw new RangeError(`table length ${table.length} is not a multiple of ${stride}`);
  const out = new Float32Array(table.length / stride);
  for (let r = 0; r < out.length; r++) out[r] = table[r * stride + j];
  return out;
}
