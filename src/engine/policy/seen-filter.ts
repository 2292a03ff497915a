// Rule: drop candidates the user has seen recently. An impression counts while
// its age now - lastSeen is at most `ttlMs`; an older one no longer counts (the
// item may be shown again). Impressions stamped in the future count. To demote
// instead of dropping, use demoteSeen (the purchase down-rank rule on the
// impression times).
import { downrankPurchased } from './downrank-purchased';
import { recentMask } from './recency';

/** Positions into the candidate arrays: kept ones and removed ones, each in input order. */
export interface SeenSplit {
  keep: Int32Array;
  removed: Int32Array;
}

/** Splits candidate positions into unseen (kept) and recently seen (removed). */
export function filterSeen(rows: Int32Array, seen: ReadonlyMap<number, number>, now: number, ttlMs: number): SeenSplit {
  const hit = recentMask(rows, seen, now, ttlMs);
  let nRemoved = 0;
  for (let i = 0; i < hit.length; i++) nRemoved += hit[i];
  const keep = new Int32Array(rows.length - nRemoved);
  const removed = new Int32Array(nRemoved);
  let k = 0;
  let r = 0;
  for (let i = 0; i < hit.length; i++) {
    if (hit[i] === 1) removed[r++] = i;
    else keep[k++] = i;
  }
  return { keep, removed };
}

/**
 * New scores with recently seen candidates demoted instead of dropped:
 * score * factor (factor in (0, 1]), or below every unseen candidate when
 * factor = 0, exactly as downrankPurchased does for purchases.
 */
export function demoteSeen(
  rows: Int32Array,
  scores: Float32Array,
  seen: ReadonlyMap<number, number>,
  now: number,
  ttlMs: number,
  factor = 0,
): Float32Array {
  return downrankPurchased(rows, scores, seen, now, ttlMs, factor);
}
