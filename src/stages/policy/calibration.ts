// Calibrated recommendations (Steck, RecSys 2018): the page's category mix
// q follows the user's interest mix p. Greedy: each next item maximises
//
//   (1 - lambda) * sum of utilities - lambda * KL(p || q~),  q~ = (1 - alpha) q + alpha p
//
// over the page so far. It runs on the diversity step's order, with that
// order's scores as utilities made non-increasing along it (a running
// minimum): lambda = 0 keeps the order exactly, and within a category the
// order is never changed, so the best remaining item of a category is always
// the first one left. Each step therefore weighs one item per category.

/** q~'s share of p, which keeps the divergence finite for a category the page lacks. */
export const CALIBRATION_ALPHA = 0.01;

export interface CategoryMix {
  categories: Int32Array;
  /** Shares of `categories`, summing to 1. */
  shares: Float32Array;
}

/** KL(p || q~) of a page with counts[j] items of p's category j among size items. */
export function miscalibration(p: Float32Array, counts: Float64Array | Int32Array, size: number, alpha = CALIBRATION_ALPHA): number {
  let kl = 0;
  for (let j = 0; j < p.length; j++) {
    if (p[j] <= 0) continue;
    const q = (1 - alpha) * (size > 0 ? counts[j] / size : 0) + alpha * p[j];
    kl += p[j] * Math.log(p[j] / q);
  }
  return kl;
}

/** Utilities along the list: score / max score, as a running minimum. */
export function listUtilities(scores: Float32Array): Float32Array {
  let max = 0;
  for (const s of scores) max = Math.max(max, s);
  const u = new Float32Array(scores.length);
  let run = Infinity;
  for (let i = 0; i < scores.length; i++) {
    run = Math.min(run, max > 0 ? scores[i] / max : scores[i]);
    u[i] = run;
  }
  return u;
}

/**
 * The calibrated order of a list: `n` picks by the greedy above, then the
 * rest of the list in its order. `utility` (non-increasing) and `category`
 * are per list index; returns list indices.
 */
export function calibrate(utility: Float32Array, category: Int32Array, mix: CategoryMix, lambda: number, n: number): Int32Array {
  const m = utility.length;
  const out = new Int32Array(m);
  if (lambda <= 0 || mix.categories.length === 0) {
    for (let i = 0; i < m; i++) out[i] = i;
    return out;
  }
  // Per category of the list: its index in p (-1: not in p) and a pointer to its next item.
  const slotOf = new Map<number, number>();
  const slotCat: number[] = [];
  const itemSlot = new Int32Array(m);
  for (let i = 0; i < m; i++) {
    let s = slotOf.get(category[i]);
    if (s === undefined) slotOf.set(category[i], (s = slotCat.push(category[i]) - 1));
    itemSlot[i] = s;
  }
  const pIndex = Int32Array.from(slotCat, (g) => mix.categories.indexOf(g));
  const next = new Int32Array(slotCat.length).fill(m);
  for (let i = m - 1; i >= 0; i--) next[itemSlot[i]] = i;
  const counts = new Float64Array(mix.categories.length);
  const picked = new Uint8Array(m);
  const k = Math.min(n, m);
  for (let size = 0; size < k; size++) {
    let best = -1;
    let bestGain = -Infinity;
    for (let s = 0; s < slotCat.length; s++) {
      const i = next[s];
      if (i >= m) continue;
      const j = pIndex[s];
      if (j >= 0) counts[j]++;
      const gain = (1 - lambda) * utility[i] - lambda * miscalibration(mix.shares, counts, size + 1);
      if (j >= 0) counts[j]--;
      if (gain > bestGain || (gain === bestGain && i < best)) [best, bestGain] = [i, gain];
    }
    out[size] = best;
    picked[best] = 1;
    if (pIndex[itemSlot[best]] >= 0) counts[pIndex[itemSlot[best]]]++;
    let after = best + 1;
    while (after < m && (picked[after] === 1 || itemSlot[after] !== itemSlot[best])) after++;
    next[itemSlot[best]] = after;
  }
  for (let i = 0, at = k; i < m; i++) if (picked[i] === 0) out[at++] = i;
  return out;
}
