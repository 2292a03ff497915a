// How well a page serves a user's several interests, against the world's
// truth (the user's interest categories and their weights): the share of
// those categories present, the largest category's share of the page,
// whether the page is one category, the number of categories on it, and the
// miscalibration KL(p || q~) of the page's category mix q against the
// interest mix p (Steck; q~ = 0.99 q + 0.01 p).
import { CALIBRATION_ALPHA, miscalibration } from '../../src/stages/policy/calibration';

export interface InterestPageScore {
  /** Share of the user's interest categories present on the page. */
  coverage: number;
  /** The most frequent category's share of the page. */
  largestShare: number;
  singleCategory: boolean;
  categories: number;
  miscalibration: number;
}

/** Scores one page (its items' categories, best first) for a user with `interests` weighted `weights`. */
export function scoreInterestPage(pageCategories: readonly string[], interests: readonly string[], weights: readonly number[]): InterestPageScore {
  const counts = new Map<string, number>();
  for (const c of pageCategories) counts.set(c, (counts.get(c) ?? 0) + 1);
  const n = pageCategories.length;
  let largest = 0;
  for (const v of counts.values()) largest = Math.max(largest, v);
  const present = interests.filter((c) => counts.has(c)).length;
  const total = weights.reduce((a, b) => a + b, 0);
  const p = Float32Array.from(weights, (w) => w / total);
  const q = Float64Array.from(interests, (c) => counts.get(c) ?? 0);
  return {
    coverage: interests.length > 0 ? present / interests.length : 1,
    largestShare: n > 0 ? largest / n : 0,
    singleCategory: counts.size === 1,
    categories: counts.size,
    miscalibration: miscalibration(p, q, n, CALIBRATION_ALPHA),
  };
}

/** Means over pages, with the count and share of single-category pages. */
export function summariseInterestPages(scores: readonly InterestPageScore[]): { users: number; coverage: number; largestShare: number; singleCategoryPages: number; singleCategoryShare: number; categories: number; miscalibration: number } {
  const n = scores.length;
  const avg = (f: (s: InterestPageScore) => number) => (n > 0 ? scores.reduce((a, s) => a + f(s), 0) / n : 0);
  const single = scores.filter((s) => s.singleCategory).length;
  return {
    users: n,
    coverage: avg((s) => s.coverage),
    largestShare: avg((s) => s.largestShare),
    singleCategoryPages: single,
    singleCategoryShare: n > 0 ? single / n : 0,
    categories: avg((s) => s.categories),
    miscalibration: avg((s) => s.miscalibration),
  };
}
