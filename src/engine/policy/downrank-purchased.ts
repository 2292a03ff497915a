// Rule (paper section 6, "Business Heuristics"): any item purchased within the
// last `windowMs` (default 60 days) is down-ranked.
//  - factor in (0, 1]: its score is multiplied by `factor`; a negative score is
//    divided by it instead, so a down-rank never raises a score.
//  - factor = 0: every such item is pushed below every other candidate, the
//    purchased items keeping their relative order (their scores are shifted by
//    one common offset to end at least 1 below the lowest other score).
// Recency follows recentMask: age now - t <= windowMs, future times count.
import { recentMask } from './recency';

/** 60 days in ms: the paper's "last 2 months". */
export const PURCHASE_WINDOW_MS = 60 * 24 * 3600 * 1000;

/**
 * New scores with recently purchased candidates down-ranked (see the file
 * header). `scores` is not modified. Scores are expected to be finite.
 */
export function downrankPurchased(
  rows: Int32Array,
  scores: Float32Array,
  purchased: ReadonlyMap<number, number>,
  now: number,
  windowMs: number = PURCHASE_WINDOW_MS,
  factor = 0,
): Float32Array {
  if (scores.length !== rows.length) throw new RangeError(`scores has ${scores.length} entries for ${rows.length} rows`);
  if (typeof factor !== 'number' || !(factor >= 0 && factor <= 1)) throw new RangeError(`factor must be in [0, 1], got ${factor}`);
  const hit = recentMask(rows, purchased, now, windowMs);
  const out = Float32Array.from(scores);
  if (factor > 0) {
    for (let i = 0; i < out.length; i++) {
      if (hit[i] === 1) out[i] = out[i] >= 0 ? out[i] * factor : out[i] / factor;
    }
    return out;
  }
  // factor 0: shift the purchased block below the lowest other score.
  let minOther = Infinity;
  let maxHit = -Infinity;
  for (let i = 0; i < out.length; i++) {
    if (hit[i] === 1) maxHit = Math.max(maxHit, out[i]);
    else minOther = Math.min(minOther, out[i]);
  }
  if (maxHit === -Infinity || minOther === Infinity) return out; // nothing to move, or nothing to move below
  // A gap of at least 1 (and well above float32 rounding at this magnitude) keeps
  // the block strictly below minOther; one common shift keeps the block's order
  // (float32 rounding is monotone, so it can tie but never swap two scores).
  const gap = 1 + Math.abs(minOther) * 1e-6;
  const shift = Math.min(0, minOther - gap - maxHit);
  for (let i = 0; i < out.length; i++) {
    if (hit[i] === 1) out[i] = out[i] + shift;
  }
  return out;
}
