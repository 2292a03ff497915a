// Rule (paper Appendix 10.1, Algorithm 1): mix organic results S with fresh
// (cold-start) items N into a page of n. Positions 1..k-1 take the next organic
// item (argmax rel over what is left of S). From position k on, each position
// is an exploration pick with probability epsilon, else the next organic item:
//  - 'epsilon-greedy': a fresh item sampled with probability w_i / sum w over
//    the fresh items left. w_i = rel_i when every fresh rel is > 0 (the paper's
//    rule); otherwise w_i = exp(rel_i - max rel) (a softmax, so zero or negative
//    scores still give every item a chance). The weights are fixed once per call.
//  - 'thompson': theta_i ~ Beta(alpha_i, beta_i) from `posterior` for every fresh
//    item left, take the argmax.
// A fresh row that is also organic (or repeated) is dropped from N, so no row
// appears twice. When one source runs out the other continues (a fresh item then
// fills a position, before k too, picked by the method); the Bernoulli draw is
// made only while both sources have items. The flag is 1 where a fresh item was placed.
//
// Propensities (on request, for the impression log): per position, the
// probability that the policy put this row there given the positions before
// it: 1 - epsilon for an organic row where a draw was made (1 where none was),
// and for a fresh row the draw's epsilon (or 1) times the chance of this pick:
// w_i / sum w left for epsilon-greedy, and for Thompson the chance that this
// item's Beta sample is the largest, estimated from `thompsonDraws` draws of
// a generator of its own (the page's own draws are not disturbed).
import { mulberry32 } from '../../util/random';
import { sampleBeta } from './beta';

/** Candidate rows with their relevance (higher is better). */
export interface ScoredRows {
  rows: Int32Array;
  rel: Float32Array;
}

export type ExplorationMethod = 'epsilon-greedy' | 'thompson';

/** Beta posterior of a fresh item's engagement rate. */
export interface BetaPosterior {
  alpha: number;
  beta: number;
}

/**
 * The mixed page: rows in order, 1 in `exploration` where the row is an
 * exploration (fresh) pick, and in `at` each row's index in its source
 * (fresh.rows where exploration is 1, organic.rows otherwise).
 */
export interface MixedPage {
  rows: Int32Array;
  exploration: Uint8Array;
  at: Int32Array;
  /** Per position, the probability of this row there given the positions before (with `propensities`). */
  propensity?: Float64Array;
}

export interface MixOptions {
  /** Compute MixedPage.propensity. */
  propensities?: boolean;
  /** Draws per Thompson pick when estimating its probability. Default 256. */
  thompsonDraws?: number;
}

/** The chance that fresh item `j` wins a Thompson draw among those not taken, estimated from `draws` draws. */
function thompsonWinShare(j: number, alpha: Float64Array, beta: Float64Array, taken: Uint8Array, draws: number, rng: () => number): number {
  let wins = 0;
  for (let d = 0; d < draws; d++) {
    let best = -1;
    let bestTheta = -Infinity;
    for (let i = 0; i < alpha.length; i++) {
      if (taken[i] === 1 && i !== j) continue;
      const theta = sampleBeta(alpha[i], beta[i], rng);
      if (theta > bestTheta) {
        best = i;
        bestTheta = theta;
      }
    }
    if (best === j) wins++;
  }
  // Never 0: the item was drawn, so its chance is positive (add-one smoothing).
  return (wins + 1) / (draws + 1);
}

function checkSource(name: string, s: ScoredRows): void {
  if (s.rel.length !== s.rows.length) throw new RangeError(`${name}.rel has ${s.rel.length} entries for ${s.rows.length} rows`);
  for (let i = 0; i < s.rel.length; i++) {
    if (!Number.isFinite(s.rel[i])) throw new RangeError(`${name}.rel[${i}] is not finite (${s.rel[i]})`);
  }
}

/**
 * Positions of `s` by rel descending (ties: input order), first occurrence of
 * each row only, skipping rows in `exclude`. Every row of `s` ends up in
 * `seen` (which the caller passes empty and may reuse as the next exclude).
 */
function rankedUnique(s: ScoredRows, exclude: ReadonlySet<number> | null, seen: Set<number>): Int32Array {
  const n = s.rows.length;
  const idx = new Int32Array(n);
  let sorted = true;
  for (let i = 0; i < n; i++) {
    idx[i] = i;
    if (i > 0 && !(s.rel[i] <= s.rel[i - 1])) sorted = false;
  }
  // Callers often pass lists in rank order already (the organic page).
  if (!sorted) idx.sort((a, b) => s.rel[b] - s.rel[a] || a - b);
  let m = 0;
  for (let t = 0; t < idx.length; t++) {
    const row = s.rows[idx[t]];
    if (seen.has(row)) continue;
    seen.add(row);
    if (exclude?.has(row)) continue;
    idx[m++] = idx[t];
  }
  return idx.slice(0, m);
}

/**
 * Draws fresh items one at a time, without replacement: Thompson sampling on
 * their Beta posteriors, or in proportion to their weights (ε-greedy).
 */
function freshPicker(method: ExplorationMethod, weight: Float64Array, alpha: Float64Array, beta: Float64Array, rng: () => number, taken: Uint8Array): () => number {
  const nf = weight.length;
  return (): number => {
    let best = -1;
    if (method === 'thompson') {
      let bestTheta = -Infinity;
      for (let j = 0; j < nf; j++) {
        if (taken[j] === 1) continue;
        const theta = sampleBeta(alpha[j], beta[j], rng);
        if (theta > bestTheta) {
          best = j;
          bestTheta = theta;
        }
      }
    } else {
      let total = 0;
      for (let j = 0; j < nf; j++) if (taken[j] === 0) total += weight[j];
      const u = rng() * total;
      let acc = 0;
      for (let j = 0; j < nf; j++) {
        if (taken[j] === 1) continue;
        if (best < 0 || weight[j] > 0) best = j; // first left, or the last with weight (rounding fallback)
        acc += weight[j];
        if (acc > u && weight[j] > 0) break;
      }
    }
    taken[best] = 1;
    return best;
  };
}

function checkArguments(organic: ScoredRows, fresh: ScoredRows, n: number, k: number, epsilon: number, method: ExplorationMethod, posterior: unknown): void {
  checkSource('organic', organic);
  checkSource('fresh', fresh);
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be an integer >= 0, got ${n}`);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be an integer >= 1, got ${k}`);
  if (typeof epsilon !== 'number' || !(epsilon >= 0 && epsilon <= 1)) throw new RangeError(`epsilon must be in [0, 1], got ${epsilon}`);
  if (method !== 'epsilon-greedy' && method !== 'thompson') throw new RangeError(`unknown exploration method ${String(method)}`);
  if (method === 'thompson' && posterior === undefined) throw new TypeError("method 'thompson' needs a posterior");
}

/** The chance of picking fresh item j among those not taken (called before it is marked taken). */
function pickChanceOf(method: ExplorationMethod, weight: Float64Array, alpha: Float64Array, beta: Float64Array, taken: Uint8Array, draws: number, own: () => number): (j: number) => number {
  return (j) => {
    if (method === 'thompson') return thompsonWinShare(j, alpha, beta, taken, draws, own);
    let total = 0;
    for (let i = 0; i < weight.length; i++) if (taken[i] === 0 || i === j) total += weight[i];
    return total > 0 ? weight[j] / total : 1;
  };
}

/** Mixes fresh items into the organic ranking (see the file header). k is 1-based. */
export function mixExploration(
  organic: ScoredRows,
  fresh: ScoredRows,
  n: number,
  k: number,
  epsilon: number,
  rng: () => number,
  method: ExplorationMethod = 'epsilon-greedy',
  posterior?: (row: number) => BetaPosterior,
  options: MixOptions = {},
): MixedPage {
  checkArguments(organic, fresh, n, k, epsilon, method, posterior);
  // The organic rows, collected while ranking them, are what fresh excludes.
  const organicRows = new Set<number>();
  const orgPos = rankedUnique(organic, null, organicRows);
  const freshPos = rankedUnique(fresh, organicRows, new Set<number>());
  const nf = freshPos.length;
  const freshRows = new Int32Array(nf);
  const weight = new Float64Array(nf);
  const alpha = new Float64Array(nf);
  const beta = new Float64Array(nf);
  let allPositive = true;
  for (let j = 0; j < nf; j++) {
    freshRows[j] = fresh.rows[freshPos[j]];
    weight[j] = fresh.rel[freshPos[j]];
    if (!(weight[j] > 0)) allPositive = false;
  }
  // freshPos is by rel descending, so weight[0] is the max rel.
  if (!allPositive) for (let j = nf - 1; j >= 0; j--) weight[j] = Math.exp(weight[j] - weight[0]);
  if (method === 'thompson' && posterior !== undefined) {
    for (let j = 0; j < nf; j++) {
      const { alpha: a, beta: b } = posterior(freshRows[j]);
      if (!(a > 0 && b > 0 && Number.isFinite(a) && Number.isFinite(b))) {
        throw new RangeError(`posterior of row ${freshRows[j]} must have finite alpha, beta > 0, got ${a}, ${b}`);
      }
      alpha[j] = a;
      beta[j] = b;
    }
  }

  const taken = new Uint8Array(nf);
  const pickFresh = freshPicker(method, weight, alpha, beta, rng, taken);
  const propensity = options.propensities ? new Float64Array(Math.min(n, orgPos.length + nf)) : undefined;
  const pickChance = propensity ? pickChanceOf(method, weight, alpha, beta, taken, options.thompsonDraws ?? 256, mulberry32(nf * 7919 + n)) : null;

  const size = Math.min(n, orgPos.length + nf);
  const rows = new Int32Array(size);
  const exploration = new Uint8Array(size);
  const at = new Int32Array(size);
  let oi = 0;
  let freshLeft = nf;
  for (let p = 0; p < size; p++) {
    const orgLeft = oi < orgPos.length;
    const drawn = orgLeft && freshLeft > 0 && p + 1 >= k;
    const explore = !orgLeft || (drawn && rng() < epsilon);
    if (explore) {
      const j = pickFresh();
      if (propensity) {
        taken[j] = 0; // the chance is of the pick among those left before it
        propensity[p] = (drawn ? epsilon : 1) * pickChance!(j);
        taken[j] = 1;
      }
      rows[p] = freshRows[j];
      at[p] = freshPos[j];
      exploration[p] = 1;
      freshLeft--;
    } else {
      if (propensity) propensity[p] = drawn ? 1 - epsilon : 1;
      at[p] = orgPos[oi++];
      rows[p] = organic.rows[at[p]];
    }
  }
  return { rows, exploration, at, ...(propensity ? { propensity } : {}) };
}
